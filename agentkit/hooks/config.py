"""agentkit.yml: found, read with line numbers, validated, and frozen.

Errors name the file, line and the key chain, all at once, like the appspec linter:
`agentkit.yml:7: shared > on_conflict: expected one of backup, seed, fail, got 'move'`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from agentkit import environ
from agentkit.appspec.source import MappingNode, Node, ScalarNode, SequenceNode, read_source
from agentkit.appspec.view import MapView, Path, pos, value11
from agentkit.errors import BadConfig
from agentkit.hooks.config_values import (
    Problem,
    Reader,
    abs_path,
    boolean,
    choice,
    integer,
    list_of,
    mode,
    number,
    regex,
    rel_path,
    scalar,
)

EVENTS_ACTIONS = ("release", "link-shared", "permissions", "health up", "health down", "validate",
                  "preflight")
DEFAULT_LOG = "/var/log/agentkit/hooks.log"


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
    where: Path = ("shared",)
    m = r.map(node, where, ("root", "require_mount", "dirs", "files", "link", "on_conflict",
                            "missing_file", "owner", "group", "mode"))
    if m is None:
        return None
    root = r.required(m, node, "root", where, abs_path, "an absolute path",
                      " (the shared storage directory)")
    if root is None:
        return None
    shared = Shared(
        root=root,
        require_mount=r.get(m, "require_mount", where,
                            choice("nfs", "nfs4", "efs", "any", "none"),
                            "one of nfs, nfs4, efs, any, none", "none"),
        dirs=r.get(m, "dirs", where, list_of(rel_path), "relative paths without '..'", ()),
        files=r.get(m, "files", where, list_of(rel_path), "relative paths without '..'", ()),
        link=r.get(m, "link", where, choice("absolute", "relative"),
                   "one of absolute, relative", "absolute"),
        on_conflict=r.get(m, "on_conflict", where, choice("backup", "seed", "fail"),
                          "one of backup, seed, fail", "backup"),
        missing_file=r.get(m, "missing_file", where, choice("fail", "touch", "seed"),
                           "one of fail, touch, seed", "fail"),
        owner=r.get(m, "owner", where, scalar, "a user name"),
        group=r.get(m, "group", where, scalar, "a group name"),
        mode=r.get(m, "mode", where, mode, 'an octal mode like "2775"'))
    entries = sorted((*shared.dirs, *shared.files))
    for a, b in zip(entries, entries[1:]):
        if a == b or b.startswith(a + "/"):
            r.error(m.node, where, f"{a!r} and {b!r} overlap: a shared entry cannot hold "
                    "another one")
    return shared


def _permissions(r: Reader, node: Node | None) -> tuple[PermissionRule, ...]:
    if node is None or (isinstance(node, ScalarNode) and value11(node) is None):
        return ()
    if not isinstance(node, SequenceNode):
        r.error(node, ("permissions",), "expected a list of rules (`- path: ...`)")
        return ()
    rules = []
    for i, item in enumerate(node.value):
        where: Path = ("permissions", i)
        m = r.map(item, where, ("path", "owner", "group", "file_mode", "dir_mode", "exclude",
                                "cross_mounts", "strict"))
        path = r.required(m, item, "path", where, abs_path, "an absolute path")
        if path is None:
            continue
        rules.append(PermissionRule(
            path, r.get(m, "owner", where, scalar, "a user name"),
            r.get(m, "group", where, scalar, "a group name"),
            r.get(m, "file_mode", where, mode, 'an octal mode like "0644"'),
            r.get(m, "dir_mode", where, mode, 'an octal mode like "0755"'),
            r.get(m, "exclude", where, list_of(scalar), "a list of relative globs", ()),
            r.get(m, "cross_mounts", where, boolean, "true or false", False),
            r.get(m, "strict", where, boolean, "true or false", False)))
    return tuple(rules)


def _health(r: Reader, node: Node | None) -> Health | None:
    where: Path = ("health",)
    m = r.map(node, where, ("file", "content", "owner", "group", "drain"))
    if m is None:
        return None
    path = r.required(m, node, "file", where, abs_path, "an absolute path",
                      " (the health-check file)")
    if path is None:
        return None
    dw: Path = ("health", "drain")
    d = r.map(m.get("drain"), dw, ("interval", "unhealthy_threshold", "timeout"))
    drain = Drain(r.get(d, "interval", dw, number, "seconds", 30.0),
                  r.get(d, "unhealthy_threshold", dw, integer, "a whole number", 2),
                  r.get(d, "timeout", dw, number, "seconds", 5.0))
    return Health(path, r.get(m, "content", where, scalar, "text", "OK\n"),
                  r.get(m, "owner", where, scalar, "a user name"),
                  r.get(m, "group", where, scalar, "a group name"), drain)


def _validate(r: Reader, node: Node | None) -> Validate | None:
    where: Path = ("validate",)
    m = r.map(node, where, ("url", "status", "body", "headers", "timeout", "deadline",
                            "processes", "ports"))
    if m is None:
        return None
    headers_node = m.get("headers")
    hm = r.map(headers_node, (*where, "headers"), tuple(
        str(e.key) for e in MapView(headers_node).entries()) if isinstance(
        headers_node, MappingNode) else ())
    headers = tuple((str(e.key), scalar(e.value)) for e in hm.entries()) if hm else ()
    v = Validate(
        url=r.get(m, "url", where, scalar, "a URL"),
        status=r.get(m, "status", where, list_of(integer), "a list of HTTP status codes", (200,)),
        body=r.get(m, "body", where, regex, "a regular expression"),
        headers=headers,
        timeout=r.get(m, "timeout", where, number, "seconds", 5.0),
        deadline=r.get(m, "deadline", where, number, "seconds", 120.0),
        processes=r.get(m, "processes", where, list_of(scalar), "a list of process names", ()),
        ports=r.get(m, "ports", where, list_of(integer), "a list of TCP ports", ()))
    if v.timeout > v.deadline:
        r.error(m.get("timeout"), (*where, "timeout"),
                f"the per-try timeout ({v.timeout:g} s) is longer than the deadline "
                f"({v.deadline:g} s)")
    return v


def _releases(r: Reader, node: Node | None) -> Releases | None:
    where: Path = ("releases",)
    m = r.map(node, where, ("root", "staging", "keep", "swap", "restart"))
    if m is None:
        return None
    root = r.required(m, node, "root", where, abs_path, "an absolute path",
                      " (where releases/ and current live)")
    if root is None:
        return None
    staging = r.get(m, "staging", where, abs_path, "an absolute path", f"{root}/staging")
    if staging in (root, f"{root}/current") or staging.startswith(f"{root}/releases/") or \
            staging == f"{root}/releases":
        r.error(m.get("staging") or node, (*where, "staging"), "must not be releases.root, "
                "its current or anything in releases/ (it is the appspec's files "
                "destination, emptied by every release)")
    keep = r.get(m, "keep", where, integer, "an integer of at least 2", 5)
    if keep < 2:
        r.error(m.get("keep"), (*where, "keep"), f"expected an integer of at least 2 (the "
                f"current and the previous release are always kept), got {keep}")
        keep = 2
    return Releases(root, staging, keep,
                    r.get(m, "swap", where, choice("AfterInstall", "ApplicationStart"),
                          "one of AfterInstall, ApplicationStart", "AfterInstall"),
                    r.get(m, "restart", where, list_of(scalar), "a command as a list of words",
                          ()))


def _preflight(r: Reader, node: Node | None) -> Preflight | None:
    where: Path = ("preflight",)
    m = r.map(node, where, ("min_free", "users", "groups", "commands", "mounts"))
    if m is None:
        return None
    min_free = r.get(m, "min_free", where, _size, 'a multiple like "2x" or a size like "500MB"',
                     "2x")
    return Preflight(min_free,
                     r.get(m, "users", where, list_of(scalar), "a list of user names", ()),
                     r.get(m, "groups", where, list_of(scalar), "a list of group names", ()),
                     r.get(m, "commands", where, list_of(scalar), "a list of commands", ()),
                     r.get(m, "mounts", where, list_of(abs_path), "a list of mount points", ()))


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(x|[KMGT]?B?)", re.IGNORECASE)


def _size(node: Node) -> str:
    text = scalar(node).strip()
    if not _SIZE.fullmatch(text):
        raise ValueError
    return text


def parse_size(text: str, bundle: int) -> int:
    """Bytes from "2x" (times the bundle) or "500MB"."""
    m = _SIZE.fullmatch(text.strip())
    assert m is not None
    number, unit = float(m.group(1)), m.group(2).upper()
    if unit == "X":
        return int(number * bundle)
    scale = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
             "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}[unit]
    return int(number * scale)


def _events(r: Reader, node: Node | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from agentkit.appspec import events

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
    # (commands/verify_config.py); the hooks ignore both
    top = r.map(src.root, (), ("version", "release", "shared", "permissions", "health",
                               "validate", "preflight", "events", "log", "releases",
                               "deploy", "verify"))
    if top is None:
        return Checked(None, (Problem(1, None, "the file is empty or not a mapping; start it "
                                      "with `version: 1`"),), src.root)
    if r.get(top, "version", (), integer, "1", None) != 1:
        r.error(top.get("version") or top.node, ("version",), "expected `version: 1`")
    log = r.map(top.get("log"), ("log",), ("file",))
    cfg = Config(
        path=path, release=r.get(top, "release", (), abs_path, "an absolute path"),
        shared=_shared(r, top.get("shared")), permissions=_permissions(r, top.get("permissions")),
        health=_health(r, top.get("health")), validate=_validate(r, top.get("validate")),
        preflight=_preflight(r, top.get("preflight")), events=_events(r, top.get("events")),
        log_file=r.get(log, "file", ("log",), abs_path, "an absolute path", DEFAULT_LOG),
        releases=_releases(r, top.get("releases")))
    assert isinstance(top.node, MappingNode)
    _needs(r, cfg, top.node)
    problems = tuple(sorted(r.errors, key=lambda p: p.line))
    return Checked(None if problems else cfg, problems, src.root)


def load(path: str) -> Config:
    checked = check(path)
    if checked.config is None:
        texts = [p.text(path) for p in checked.problems]
        raise BadConfig(texts[0] if len(texts) == 1 else
                        f"{len(texts)} problems in {path}:\n" + "\n".join(texts))
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
    for candidate, how in ((explicit, "--config"), (environ.get("AGENTKIT_CONFIG") or None,
                                                     "AGENTKIT_CONFIG")):
        if candidate:
            if not os.path.isfile(candidate):
                raise BadConfig(f"{candidate}: no such file (from {how}). Point it at the "
                                "bundle's agentkit.yml.")
            return candidate
    if os.path.isfile("agentkit.yml"):
        return os.path.abspath("agentkit.yml")
    raise BadConfig("no agentkit.yml: pass --config FILE or set AGENTKIT_CONFIG (the hook "
                    "shim passes the one next to appspec.yml).")
