"""Which agentkit.yml a command reads: --config, then $AGENTKIT_CONFIG, then ./agentkit.yml."""

from __future__ import annotations

import os

from agentkit import environ
from agentkit.errors import BadConfig

NAME = "agentkit.yml"


def find(explicit: str | None, point_at: str) -> str | None:
    """The file named by --config or AGENTKIT_CONFIG (which must exist: `point_at` says what
    it should name), else ./agentkit.yml when there is one, else None."""
    for candidate, how in ((explicit, "--config"),
                           (environ.get("AGENTKIT_CONFIG") or None, "AGENTKIT_CONFIG")):
        if candidate:
            if not os.path.isfile(candidate):
                raise BadConfig(f"{candidate}: no such file (from {how}). {point_at}")
            return candidate
    return NAME if os.path.isfile(NAME) else None
