"""The one way agentkit reads this process's environment, and derives one for a program it
starts. Nothing here changes os.environ: a child gets its own copy (`derived`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType


def get(name: str, default: str = "") -> str:
    """The variable `name` of the caller's environment, `default` when it is unset."""
    return os.environ.get(name, default)


def caller() -> Mapping[str, str]:
    """The caller's environment as a read-only view."""
    return MappingProxyType(os.environ)


def derived(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A copy of `base` (default: the caller's environment) with `extra` set."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    return env
