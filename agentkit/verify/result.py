"""The verifier's result: one value that every report renders."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agentkit.agent.script_run import ScriptRun
from agentkit.findings import Finding

# An event's status besides succeeded, failed and skipped: its scripts could not run here as
# on an instance (NOT_RUN), or failed only for a lack of privilege of this box (UNDETERMINED).
NOT_RUN, UNDETERMINED = "not run here", "undetermined"


@dataclass(frozen=True)
class EventRun:
    name: str
    status: str  # succeeded, failed, failed (ignored), skipped, not run here, undetermined
    revision: str  # current, previous
    scripts: tuple[ScriptRun, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "revision": self.revision,
                "scripts": [s.to_json() for s in self.scripts], "note": self.note}


@dataclass(frozen=True)
class Failure:
    event: str
    error_code: str
    message: str
    script: str | None = None
    log_tail: str = ""  # what the CodeDeploy console shows for a failed script

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "error_code": self.error_code, "message": self.message,
                "script": self.script, "log_tail": self.log_tail}


@dataclass(frozen=True)
class Service:
    """A unit the hooks' systemctl or service touched in the box (agentkit/systemd/services.py):
    what was asked of it, its state when the deployment ended, the end of its log."""

    unit: str
    path: str  # its unit file ("" when there is none)
    state: str  # active, inactive, failed, activating
    enabled: str  # enabled, disabled, static, masked, "" (not known)
    main_pid: int | None
    actions: tuple[tuple[str, str, str, int], ...]  # (event, action, result, exit code)
    log: tuple[str, ...]
    listening: tuple[str, ...] = ()  # TCP addresses its processes listened on at the end
    # ... and when ValidateService began (None: it did not run in the box)
    listening_at_validate: tuple[str, ...] | None = None
    ignored: tuple[str, ...] = ()  # [Service] settings the box does not model (Restart...)

    @classmethod
    def from_box(cls, raw: dict[str, Any],
                 at_validate: dict[str, tuple[str, ...]] | None = None) -> Service:
        actions = tuple((str(a.get("event", "")), str(a.get("action", "")),
                         str(a.get("result", "")), int(a.get("exit_code", 0)))
                        for a in raw.get("actions", []) if isinstance(a, dict))
        pid = raw.get("main_pid")
        unit = str(raw.get("unit", ""))
        return cls(unit, str(raw.get("path", "")),
                   str(raw.get("active", "")), str(raw.get("enabled", "")),
                   pid if isinstance(pid, int) else None, actions,
                   tuple(str(line) for line in raw.get("log", [])),
                   tuple(str(a) for a in raw.get("listening", [])),
                   None if at_validate is None else at_validate.get(unit, ()),
                   tuple(str(k) for k in raw.get("not_modelled", [])))

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "unit_file": self.path or None, "state": self.state,
                "enabled": self.enabled or None, "main_pid": self.main_pid,
                "actions": [{"event": e, "action": a, "result": r, "exit_code": c}
                            for e, a, r, c in self.actions], "log": list(self.log),
                "listening": list(self.listening),
                "listening_at_validate": None if self.listening_at_validate is None
                else list(self.listening_at_validate), "ignored_settings": list(self.ignored)}


class Node(NamedTuple):  # one per path of a bundle: a tuple is cheap to make
    """A path in the final tree or in the changes, with its final attributes."""

    path: str
    type: str
    mode: str | None
    target: str | None
    sha256: str | None
    owner: str | None = None
    change: str | None = None  # created, modified, deleted (changes only)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "type": self.type, "mode": self.mode,
                               "target": self.target, "sha256": self.sha256,
                               "owner": self.owner}
        if self.change is not None:
            out = {"path": self.path, "change": self.change, **{k: v for k, v in out.items()
                                                                 if k != "path"}}
        return out


class Nodes:
    """Paths computed once (agentkit.verify.outcome) and kept in a file, read back as often as
    a report asks: a tree of 80,000 paths is written out without being held."""

    def __init__(self, path: str | None = None, counts: dict[str, int] | None = None) -> None:
        self._path = path
        self._counts = dict(counts or {})

    def __iter__(self) -> Iterator[Node]:
        if self._path is None:
            return
        with open(self._path, "rb") as f:
            while True:
                try:
                    batch = marshal.load(f)
                except EOFError:
                    return
                yield from (Node(*n) for n in batch)

    def counts(self) -> dict[str, int]:
        """How many of each `change`."""
        return dict(self._counts)


class Untouched(NamedTuple):
    """The host directories under the destinations that the report's tree does not enter
    (the deployment did not touch them), and the non-directory entries below them."""

    dirs: int = 0
    entries: int = 0
    bytes: int = 0
    complete: bool = True  # False: more entries than were counted

    def to_json(self) -> dict[str, Any]:
        return {"dirs": self.dirs, "entries": self.entries, "bytes": self.bytes,
                "complete": self.complete}


@dataclass(frozen=True)
class VerifyResult:
    archive: str
    agent: str
    bundle_type: str
    deployment_group_id: str
    deployment_id: str
    failure: Failure | None
    events: tuple[EventRun, ...]
    findings: tuple[Finding, ...]
    tree: Nodes = field(default_factory=Nodes)
    changes: Nodes = field(default_factory=Nodes)
    scripts_log: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    undetermined: str | None = None  # why verify cannot say whether the deployment succeeds
    members: int = 0  # the archive's members (how big the throw-away root is)
    modelled: tuple[str, ...] = ()  # the deployment's settings verify assumed, for the reader
    untouched: Untouched = field(default_factory=Untouched)  # what the tree leaves out
    services: tuple[Service, ...] = ()  # what the hooks' systemctl did in the box

    @property
    def outcome(self) -> str:
        if self.failure is not None:
            return "failed"
        return "undetermined" if self.undetermined else "succeeded"

    @property
    def succeeded(self) -> bool:
        return self.failure is None

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.findings)

    def to_json(self, with_paths: bool = True) -> dict[str, Any]:
        """Everything; without `tree` and `changes` when the caller streams those."""
        paths: dict[str, Any] = {}
        if with_paths:
            paths = {"tree": [n.to_json() for n in self.tree],
                     "changes": [n.to_json() for n in self.changes]}
        return {
            "archive": self.archive, "agent": self.agent, "bundle_type": self.bundle_type,
            "deployment_group_id": self.deployment_group_id, "deployment_id": self.deployment_id,
            "result": self.outcome, "undetermined": self.undetermined,
            "failed_event": self.failure.event if self.failure else None,
            "error": self.failure.to_json() if self.failure else None,
            "events": [e.to_json() for e in self.events],
            "findings": [f.to_json() for f in self.findings],
            "scripts_log": self.scripts_log, "notes": list(self.notes),
            "modelled": list(self.modelled), "tree_untouched": self.untouched.to_json(),
            "services": [s.to_json() for s in self.services], **paths}
