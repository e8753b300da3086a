"""Frozen values: the appspec as an agent understood it, and how it judged each part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentkit.appspec.rules import RULES
from agentkit.yamlconf.source import Node
from agentkit.yamlconf.view import Path, pos


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
class Context:
    """An SELinux context as 1.x keeps it (context_info.rb): `name` is the SELinux user."""

    name: str | None
    type: str
    range: str | None  # as written in the appspec


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
    context: Context | None = None  # 1.x only (what 2.x does with it is not known)


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


class Recorder:
    """What one agent generation rejects, and how it reads each construct, as it goes."""

    def __init__(self, generation: str) -> None:
        self.generation = generation
        self.errors: list[AgentError] = []
        self.readings: dict[Path, tuple[int | None, int | None, str]] = {}

    def fail(self, order: tuple[int, ...], code: str, path: Path, node: Node | None,
             detail: str, message: str | None = None, **fields: str) -> None:
        """Record a rejection. `message` is the agent's text where it is not the rule's
        template (Ruby's own exception text where 1.x crashes, serde's where 2.x does)."""
        line, col = pos(node)
        text = message if message is not None else \
            RULES[code].agent_message(self.generation, fields) or ""
        self.errors.append(AgentError(order, code, path, line, col, detail, text,
                                      fields.get("fix", "")))
        self.read(path, node, f"rejected ({detail})")

    def read(self, path: Path, node: Node | None, reading: str) -> None:
        line, col = pos(node)
        self.readings[path] = (line, col, reading)

    def done(self, spec: AppSpec | None = None) -> Evaluation:
        return Evaluation(self.generation, tuple(self.errors), self.readings, spec)


# The parser accepts only the instance's own os: linux_util.rb / windows_util.rb
# `supported_oses` (1.x application_specification.rb raises "unsupported operating system";
# 2.x keeps the rule and the text, per ../shared/agent-notes/rust-2.md). Lint, which does not
# know the instance, accepts both.
PLATFORM_OSES = {"linux": ("linux",), "windows": ("windows",), "any": ("linux", "windows")}
WINDOWS_ON_LINUX = ("`os: windows` is for Windows instances; this Linux agent refuses it "
                    "(write `os: linux`)")


def supported_oses(platform: str) -> tuple[str, ...]:
    return PLATFORM_OSES[platform]
