"""Frozen values: the appspec as an agent understood it, and how it judged each part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentkit.appspec.view import Path


@dataclass(frozen=True)
class Script:
    location: str
    timeout: int
    runas: str | None
    sudo: bool
    line: int | None = None


@dataclass(frozen=True)
class FileMapping:
    source: str
    destination: str
    line: int | None = None


@dataclass(frozen=True)
class Permission:
    object: str
    pattern: str
    except_: tuple[str, ...]
    types: tuple[str, ...]
    owner: str | None
    group: str | None
    mode: str | None  # the octal digits the agent will chmod with, e.g. "0420"
    acls: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True)
class AppSpec:
    os: str
    hooks: Mapping[str, tuple[Script, ...]]
    files: tuple[FileMapping, ...]
    permissions: tuple[Permission, ...]
    file_exists_behavior: str | None


@dataclass(frozen=True)
class AgentError:
    """One thing the agent rejects; `order` sorts errors the way the agent meets them."""

    order: tuple[int, ...]
    code: str
    path: Path
    line: int | None
    column: int | None
    detail: str
    agent_message: str
    hint: str = ""  # overrides the rule's hint where the fix depends on the input


@dataclass(frozen=True)
class Evaluation:
    generation: str
    errors: tuple[AgentError, ...]
    # How the agent reads each construct ("30 seconds", "rejected: ..."): compared between
    # the generations to find what is not portable.
    readings: Mapping[Path, tuple[int | None, int | None, str]] = field(default_factory=dict)
    appspec: AppSpec | None = None

    @property
    def first_error(self) -> AgentError | None:
        return min(self.errors, key=lambda e: e.order) if self.errors else None
