"""agentkit.yml for the hooks: found, read with the sections' keys as data
(yamlconf/agentkit_yml.py), validated across sections, and frozen.

Errors name the file, line and the key chain, all at once, like the appspec linter:
`agentkit.yml:7: shared > on_conflict: expected one of backup, seed, fail, got 'move'`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from agentkit.errors import BadConfig
from agentkit.yamlconf import locate
from agentkit.yamlconf.agentkit_yml import (
    DEFAULT_LOG,
    EVENTS_ACTIONS,
    HEALTH,
    LOG,
    PERMISSION_RULE,
    PREFLIGHT,
    RELEASES,
    SHARED,
    SIZE,
    TOP,
    VALIDATE,
)
from agentkit.yamlconf.reader import (
    Problem,
    Reader,
    abs_path,
    integer,
    list_of,
    null,
    refuse,
    scalar,
)
from agentkit.yamlconf.source import MappingNode, Node, SequenceNode, read_source
from agentkit.yamlconf.view import MapView, Path, pos


@dataclass(frozen=True)
class Shared:
    root: str
    require_mount: str = "none"
    dirs: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    link: str = "absolute"
    on_conflict: str = "backup"
    missing_file: str = "fail"
    owner: str | None = None
    group: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class PermissionRule:
    path: str
    owner: str | None = None
    group: str | None = None
    file_mode: int | None = None
    dir_mode: int | None = None
    exclude: tuple[str, ...] = ()
    cross_mounts: bool = False
    strict: bool = False


@dataclass(frozen=True)
class Drain:
    interval: float = 30.0
    unhealthy_threshold: int = 2
    timeout: float = 5.0

    @property
    def seconds(self) -> float:
        return 0.0 if self.interval == 0 else self.interval * self.unhealthy_threshold + \
            self.timeout


@dataclass(frozen=True)
class Health:
    file: str
    content: str = "OK\n"
    owner: str | None = None
    group: str | None = None
    drain: Drain = field(default_factory=Drain)


@dataclass(frozen=True)
class Validate:
    url: str | None = None
    status: tuple[int, ...] = (200,)
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 5.0
    deadline: float = 120.0
    processes: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Preflight:
    min_free: str = "2x"
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Releases:
    """Capistrano's layout on the instance (hooks/release.py): `root/releases/<id>`, the
    `root/current` link, and the appspec's `files` destination as the staging directory."""

    root: str
    staging: str
    keep: int = 5  # keep_releases: never fewer than the current and the previous one
    swap: str = "AfterInstall"  # the event whose `release` action points current at it
    restart: tuple[str, ...] = ()  # the command (argv) a rollback runs after its swap


@dataclass(frozen=True)
class Config:
    path: str
    release: str | None
    shared: Shared | None
    permissions: tuple[PermissionRule, ...]
    health: Health | None
    validate: Validate | None
    preflight: Preflight | None
    events: tuple[tuple[str, tuple[str, ...]], ...]
    log_file: str = DEFAULT_LOG
    releases: Releases | None = None

    def actions_for(self, event: str) -> tuple[str, ...]:
        return dict(self.events).get(event, ())


@dataclass(frozen=True)
class Checked:
    """What `check` read: the config when it validates, every problem, and the document
    (for the line of a key: `line_of`)."""

    config: Config | None
    problems: tuple[Problem, ...]
    root: Node | None


def _shared(r: Reader, node: Node | None) -> Shared | None:
    read = SHARED.read(r, node, ("shared",))
    if read is None:
        return None
    view, values = read
    shared = Shared(**values)
    entries = sorted((*shared.dirs, *shared.files))
    for a, b in zip(entries, entries[1:]):
        if a == b or b.startswith(a + "/"):
            r.error(view.node, ("shared",), f"{a!r} and {b!r} overlap: a shared entry cannot "
                    "hold another one")
    return shared


def _permissions(r: Reader, node: Node | None) -> tuple[PermissionRule, ...]:
    if null(node):
        return ()
    if not isinstance(node, SequenceNode):
        r.error(node, ("permissions",), "expected a list of rules (`- path: ...`)")
        return ()
    rules = []
    for i, item in enumerate(node.value):
        view = r.map(item, ("permissions", i), PERMISSION_RULE.names())
        values = PERMISSION_RULE.values(r, view, item, ("permissions", i))
        if values is not None:
            rules.append(PermissionRule(**values))
    return tuple(rules)


def _health(r: Reader, node: Node | None) -> Health | None:
    read = HEALTH.read(r, node, ("health",))
    if read is None:
        return None
    values = read[1]
    return Health(**{**values, "drain": Drain(**values["drain"])})


def _validate(r: Reader, node: Node | None) -> Validate | None:
    where: Path = ("validate",)
    read = VALIDATE.read(r, node, where)
    if read is None:
        return None
    view, values = read
    v = Validate(**values, headers=_headers(r, view.get("headers"), (*where, "headers")))
    if v.timeout > v.deadline:
        r.error(view.get("timeout"), (*where, "timeout"),
                f"the per-try timeout ({v.timeout:g} s) is longer than the deadline "
                f"({v.deadline:g} s)")
    return v


def _headers(r: Reader, node: Node | None, where: Path) -> tuple[tuple[str, str], ...]:
    """Any header names, each with a text value."""
    names = tuple(str(e.key) for e in MapView(node).entries()) \
        if isinstance(node, MappingNode) else ()
    view = r.map(node, where, names)
    out = []
    for entry in view.entries() if view else ():
        value = r.get(view, str(entry.key), where, scalar, "text")
        if value is not None:
            out.append((str(entry.key), value))
    return tuple(out)


def _releases(r: Reader, node: Node | None) -> Releases | None:
    where: Path = ("releases",)
    read = RELEASES.read(r, node, where)
    if read is None:
        return None
    view, values = read
    root = values["root"]
    staging = values["staging"] or f"{root}/staging"
    if staging in (root, f"{root}/current") or staging.startswith(f"{root}/releases/") or \
            staging == f"{root}/releases":
        r.error(view.get("staging") or node, (*where, "staging"), "must not be releases.root, "
                "its current or anything in releases/ (it is the appspec's files "
                "destination, emptied by every release)")
    keep = values["keep"]
    if keep < 2:
        r.error(view.get("keep"), (*where, "keep"), f"expected an integer of at least 2 (the "
                f"current and the previous release are always kept), got {keep}")
        keep = 2
    return Releases(**{**values, "staging": staging, "keep": keep})


def _preflight(r: Reader, node: Node | None) -> Preflight | None:
    read = PREFLIGHT.read(r, node, ("preflight",))
    return None if read is None else Preflight(**read[1])


def parse_size(text: str, bundle: int) -> int:
    """Bytes from "2x" (times the bundle) or "500MB"."""
    m = SIZE.fullmatch(text.strip())
    assert m is not None
    number, unit = float(m.group(1)), m.group(2).upper()
    if unit == "X":
        return int(number * bundle)
    scale = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
             "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}[unit]
    return int(number * scale)


def _events(r: Reader, node: Node | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from agentkit import events

    where: Path = ("events",)
    m = r.map(node, where, events.SCRIPTED)
    out = []
    for entry in m.entries() if m else []:
        actions = r.get(m, str(entry.key), where, list_of(scalar), "a list of actions", ())
        for action in actions:
            if action not in EVENTS_ACTIONS:
                r.error(entry.value, (*where, str(entry.key)),
                        f"unknown action {action!r}; expected {', '.join(EVENTS_ACTIONS)}")
        out.append((str(entry.key), tuple(actions)))
    return tuple(out)


def _needs(r: Reader, cfg: Config, node: MappingNode) -> None:
    """Each action an event asks for needs its section."""
    sections: dict[str, tuple[str, object]] = {
        "link-shared": ("shared", cfg.shared), "permissions": ("permissions", cfg.permissions),
        "health up": ("health", cfg.health), "health down": ("health", cfg.health),
        "validate": ("validate", cfg.validate), "release": ("releases", cfg.releases)}
    for event, actions in cfg.events:
        for action in actions:
            name, section = sections.get(action, ("", True))
            if not section:
                events_node = MapView(node).get("events")
                where = MapView(events_node).get(event) if isinstance(
                    events_node, MappingNode) else events_node
                r.error(where, ("events", event), f"{action!r} needs a `{name}` section")
    if cfg.shared is not None and cfg.releases is None and "release" not in MapView(node):
        r.error(node, ("release",), "`release` (the release directory) is required with "
                "`shared` (or `releases`, whose each new release gets the links)")


def check(path: str) -> Checked:
    """Read and validate agentkit.yml, every problem at once (`agentkit lint` reports each
    as a finding, `load` all of them as one error)."""
    src = read_source(path)
    if src.syntax_error is not None:
        e = src.syntax_error
        return Checked(None, (Problem(e.line or 1, e.column, f"YAML syntax: {e.problem}" + (
            f" ({e.context})" if e.context else "")),), None)
    r = Reader(path)
    # deploy: is appspec generate's (deploy_config.py), verify: agentkit verify's
    # (verify/defaults.py); the hooks ignore both
    top = r.map(src.root, (), TOP.names())
    if top is None:
        return Checked(None, (Problem(1, None, "the file is empty or not a mapping; start it "
                                      "with `version: 1`"),), src.root)
    if r.get(top, "version", (), integer, "1", None) != 1:
        r.error(top.get("version") or top.node, ("version",), "expected `version: 1`")
    log = LOG.values(r, r.map(top.get("log"), ("log",), LOG.names()), None, ("log",))
    assert log is not None  # (no key of it is required)
    cfg = Config(
        path=path, release=r.get(top, "release", (), abs_path, "an absolute path"),
        shared=_shared(r, top.get("shared")), permissions=_permissions(r, top.get("permissions")),
        health=_health(r, top.get("health")), validate=_validate(r, top.get("validate")),
        preflight=_preflight(r, top.get("preflight")), events=_events(r, top.get("events")),
        log_file=log["file"], releases=_releases(r, top.get("releases")))
    assert isinstance(top.node, MappingNode)
    _needs(r, cfg, top.node)
    problems = r.problems()
    return Checked(None if problems else cfg, problems, src.root)


def load(path: str) -> Config:
    checked = check(path)
    refuse(path, checked.problems)
    assert checked.config is not None  # (a config with no problem is whole)
    return checked.config


def line_of(root: Node | None, where: Path) -> int:
    """The line of the key (or list item) at `where`, or of the deepest part of it the file
    has: the line a finding about that key points at."""
    node, line = root, 1
    for part in where:
        if isinstance(part, int):
            if not (isinstance(node, SequenceNode) and part < len(node.value)):
                break
            node = node.value[part]
            line = pos(node)[0] or line
        else:
            entry = MapView(node).entry(part) if isinstance(node, MappingNode) else None
            if entry is None:
                break
            node = entry.value
            line = pos(entry.key_node)[0] or line
    return line


def find(explicit: str | None) -> str:
    """--config, then AGENTKIT_CONFIG, then agentkit.yml in the current directory."""
    found = locate.find(explicit, "Point it at the bundle's agentkit.yml.")
    if found is None:
        raise BadConfig("no agentkit.yml: pass --config FILE or set AGENTKIT_CONFIG (the hook "
                        "shim passes the one next to appspec.yml).")
    return found if found != locate.NAME else os.path.abspath(found)
