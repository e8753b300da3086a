"""Warnings: what the agents accept but will most likely not do what the author meant.

Each check reads the YAML nodes directly, so it works on files the agents reject too.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from agentkit import events
from agentkit.appspec import ruby
from agentkit.appspec.schema import (
    CONTEXT_KEYS,
    FILE_KEYS,
    PERMISSION_KEYS,
    SCRIPT_KEYS,
    TOP_KEYS,
)
from agentkit.yamlconf.source import MappingNode, Node, ScalarNode, SequenceNode, Source
from agentkit.yamlconf.view import MapView, Path, pos, value11


@dataclass(frozen=True)
class Warn:
    code: str
    path: Path
    line: int | None
    column: int | None
    detail: str
    hint: str = ""


SERVICE_EVENT_LIMIT = 3600  # seconds per lifecycle event, enforced by the service

_KNOWN_HINTS = {
    "file_exists_behaviour": "spell it `file_exists_behavior` (American spelling)",
    "overwrite": "the agent has no per-file overwrite: set `file_exists_behavior: OVERWRITE` "
                 "at the top level",
    "owner": "set ownership in a `permissions:` entry for this destination",
    "group": "set ownership in a `permissions:` entry for this destination",
    "mode": "set modes in a `permissions:` entry for this destination",
    "permissions": "move `permissions:` to the top level, with `object:` set to the destination",
    "sources": "write one entry per file with `source:` (singular)",
    "destinations": "write one entry per destination with `destination:` (singular)",
}
_COMMANDS = frozenset({"sh", "bash", "zsh", "node", "npm", "npx", "yarn", "python", "python3",
                       "php", "ruby", "java", "sudo", "cd", "pm2", "docker", "systemctl",
                       "service", "source", "exec", "powershell", "cmd", "dotnet"})
_SHELL_SYNTAX = re.compile(r"&&|\|\||[|;<>`]|\$\(")
_GLOB = re.compile(r"[*?\[]")
_FILE_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_WINDOWS_ABS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def check(src: Source, platform: str = "any") -> list[Warn]:
    """All warnings for a parsed document."""
    root = src.root
    out: list[Warn] = []
    if src.bom:
        out.append(Warn("AK201", ("<document>",), 1, 1,
                        "the file starts with a UTF-8 byte order mark; agent 1.x then keeps "
                        "only the first top-level key"))
    if not isinstance(root, MappingNode):
        return out
    out.extend(_duplicates(root, ()))
    top = MapView(root)
    os_name = value11(top.get("os"))
    out.extend(_top_keys(top))
    if os_name == "windows" and platform == "linux":
        return out  # refused at `os` (AK111): its paths are a Windows agent's business
    out.extend(_hooks(top, os_name))
    out.extend(_files(top, os_name))
    out.extend(_permissions(top))
    return out


def _duplicates(node: Node, path: Path) -> Iterator[Warn]:
    if isinstance(node, MappingNode):
        view = MapView(node)
        for dup in view.duplicates:
            line, col = pos(dup.key_node)
            yield Warn("AK202", (*path, str(dup.key)), line, col,
                       f"`{dup.key}` is given twice; the agent keeps only the last one "
                       f"(line {line})")
        for entry in view.entries():
            yield from _duplicates(entry.value, (*path, str(entry.key)))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, (*path, i))


def _unknown(path: Path, view: MapView, known: tuple[str, ...]) -> Iterator[Warn]:
    for entry in view.entries():
        key = entry.key
        if key in known:
            continue
        text = ruby.to_s(key)
        line, col = pos(entry.key_node)
        hint = _KNOWN_HINTS.get(text)
        if hint is None:
            close = difflib.get_close_matches(text, known, n=1, cutoff=0.7)
            hint = f"did you mean `{close[0]}`?" if close else \
                f"remove it; the agent reads only {', '.join(known)}"
        yield Warn("AK204", (*path, text), line, col, f"`{text}` is not read by the agent",
                   hint)


def _top_keys(top: MapView) -> Iterator[Warn]:
    for entry in top.entries():
        text = ruby.to_s(entry.key)
        if text in events.ORDERED or (text not in TOP_KEYS and events.suggest(text)):
            line, col = pos(entry.key_node)
            event = text if text in events.ORDERED else events.suggest(text)
            yield Warn("AK203", (text,), line, col,
                       f"`{text}` is at the top level, so it is not a hook and never runs",
                       f"indent it under `hooks:` as `{event}:`")
    for warn in _unknown((), top, TOP_KEYS):
        name = warn.path[-1]
        if name not in events.ORDERED and not events.suggest(str(name)):
            yield warn


def _explicit_timeouts(scripts: SequenceNode) -> int:
    """Seconds written out in one event; defaults (3600 each) are not counted, since nobody
    chose them and a typical two-script event would otherwise always warn."""
    total = 0
    for item in scripts.value:
        node = MapView(item).get("timeout") if isinstance(item, MappingNode) else None
        try:
            total += max(ruby.to_i(value11(node)), 0) if node is not None else 0
        except ruby.NoMethod:
            continue
    return total


def _hooks(top: MapView, os_name: object) -> Iterator[Warn]:
    node = top.get("hooks")
    if not isinstance(node, MappingNode):
        return
    for entry in MapView(node).entries():
        name = ruby.to_s(entry.key)
        line, col = pos(entry.key_node)
        scripts = entry.value
        if not isinstance(scripts, SequenceNode):
            continue
        if scripts.value and (name in events.AGENT_INTERNAL or name in events.SERVICE_ONLY):
            who = "agent" if name in events.AGENT_INTERNAL else "service"
            yield Warn("AK205", ("hooks", name), line, col,
                       f"{name} is run by the {who} itself; scripts listed under it never run",
                       f"move them to {_neighbours(name)}")
        total = _explicit_timeouts(scripts)
        if total > SERVICE_EVENT_LIMIT:
            yield Warn("AK206", ("hooks", name), line, col,
                       f"the timeouts of {name} add up to {total} s; the service stops an event "
                       f"after {SERVICE_EVENT_LIMIT} s")
        for i, item in enumerate(scripts.value):
            if isinstance(item, MappingNode):
                yield from _script(("hooks", name, i), MapView(item), os_name)


def _neighbours(name: str) -> str:
    return {"DownloadBundle": "BeforeInstall", "Install": "BeforeInstall or AfterInstall",
            "BlockTraffic": "BeforeBlockTraffic or AfterBlockTraffic",
            "AllowTraffic": "BeforeAllowTraffic or AfterAllowTraffic"}[name]


def _script(path: Path, m: MapView, os_name: object) -> Iterator[Warn]:
    yield from _unknown(path, m, SCRIPT_KEYS)
    runas = m.get("runas")
    if isinstance(runas, ScalarNode) and value11(runas) is None:
        # linux_util.rb: `runas = !!script.runas`: nil is no runas; 2.x: an Option, None
        line, col = pos(runas)
        yield Warn("AK207", (*path, "runas"), line, col,
                   "runas has no value: both agents run the script as their own user (root), "
                   "as if runas were not there")
    elif isinstance(runas, ScalarNode):
        line, col = pos(runas)
        if not ruby.to_s(value11(runas)).strip():
            # "" is true in Ruby: `su  -c SCRIPT` (linux_util.rb), which root runs as root
            yield Warn("AK207", (*path, "runas"), line, col,
                       "runas is empty: agent 1.x runs `su  -c SCRIPT`, as root through su "
                       "(with root's HOME and SHELL); agent 2.x ignores it: either way the "
                       "script runs as root")
        elif os_name == "windows":
            yield Warn("AK208", (*path, "runas"), line, col,
                       "runas is not supported on Windows; the script runs as the agent's user")
    loc = m.get("location")
    if not isinstance(loc, ScalarNode) or value11(loc) is None:
        return
    text = ruby.to_s(value11(loc)).strip()
    line, col = pos(loc)
    words = text.split()
    if _SHELL_SYNTAX.search(text) or (len(words) > 1 and (
            words[0] in _COMMANDS or "/" not in words[0])):
        yield Warn("AK213", (*path, "location"), line, col,
                   f"{text!r} looks like a command; the agent runs the file at that path, "
                   "without a shell")
    elif text.startswith("/") or (os_name == "windows" and text.startswith("\\")):
        yield Warn("AK214", (*path, "location"), line, col,
                   f"{text!r} starts with {text[0]!r}; the agent still resolves it inside the "
                   "bundle, which misleads readers", f"write `{text.lstrip(chr(92) + '/')}`")


def _files(top: MapView, os_name: object) -> Iterator[Warn]:
    node = top.get("files")
    if not isinstance(node, SequenceNode):
        return
    for i, item in enumerate(node.value):
        if not isinstance(item, MappingNode):
            continue
        path: Path = ("files", i)
        m = MapView(item)
        yield from _unknown(path, m, FILE_KEYS)
        src, dst = m.get("source"), m.get("destination")
        if isinstance(src, ScalarNode) and isinstance(value11(src), str):
            source = str(value11(src))
            if _GLOB.search(source):
                line, col = pos(src)
                yield Warn("AK211", (*path, "source"), line, col,
                           f"{source!r} contains glob characters; the agent looks for a file "
                           "with exactly that name")
        if dst is None or value11(dst) is None:
            continue
        if not isinstance(dst, ScalarNode):
            line, col = pos(dst)
            yield Warn("AK215", (*path, "destination"), line, col,
                       "destination is not a single path; the install step fails on it")
            continue
        yield from _destination(path, src, dst, os_name)


def _destination(path: Path, src: Node | None, dst: ScalarNode,
                 os_name: object) -> Iterator[Warn]:
    dest = ruby.to_s(value11(dst))
    line, col = pos(dst)
    absolute = dest.startswith("/") if os_name != "windows" else bool(_WINDOWS_ABS.match(dest))
    if not absolute:
        yield Warn("AK210", (*path, "destination"), line, col,
                   f"{dest!r} is not an absolute path; the agent resolves it against its own "
                   "working directory")
    source = ruby.to_s(value11(src)) if isinstance(src, ScalarNode) else ""
    src_base = posixpath.basename(source.rstrip("/\\").replace("\\", "/"))
    dst_base = posixpath.basename(dest.rstrip("/\\").replace("\\", "/"))
    src_ext, dst_ext = _FILE_EXT.search(src_base), _FILE_EXT.search(dst_base)
    if src_ext and dst_ext and src_ext.group().lower() == dst_ext.group().lower():
        parent = posixpath.dirname(dest.rstrip("/")) or "/"
        yield Warn("AK209", (*path, "destination"), line, col,
                   f"the destination looks like a file name, but the agent treats it as a "
                   f"directory and installs {posixpath.join(dest, src_base)}",
                   f"set `destination: {parent}` (the file keeps its name {src_base})")


def _permissions(top: MapView) -> Iterator[Warn]:
    node = top.get("permissions")
    if not isinstance(node, SequenceNode):
        return
    for i, item in enumerate(node.value):
        if not isinstance(item, MappingNode):
            continue
        path: Path = ("permissions", i)
        m = MapView(item)
        yield from _unknown(path, m, PERMISSION_KEYS)
        ctx = m.get("context")
        if isinstance(ctx, MappingNode):
            yield from _unknown((*path, "context"), MapView(ctx), CONTEXT_KEYS)
        pattern = m.get("pattern")
        if isinstance(pattern, ScalarNode) and "/" in str(value11(pattern) or ""):
            line, col = pos(pattern)
            yield Warn("AK212", (*path, "pattern"), line, col,
                       f"pattern {pattern.value!r} contains '/', so it never matches: patterns "
                       "apply to the names of direct children of object")
        mode = m.get("mode")
        if isinstance(mode, ScalarNode) and not mode.style and re.fullmatch(r"0[0-7]+",
                                                                             mode.value):
            value = value11(mode)
            text = ruby.to_s(value)
            if all(c in "01234567" for c in text) and len(text.rjust(3, "0")) <= 4:
                line, col = pos(mode)
                digits = mode.value.lstrip("0").rjust(3, "0")
                yield Warn("AK200", (*path, "mode"), line, col,
                           f"mode {mode.value} is the octal number {value} to YAML 1.1, so "
                           f"agent 1.x runs chmod {text.rjust(4, '0')}, not {mode.value}; "
                           f"agent 2.x reads {mode.value}", f'write `mode: "{digits}"`')
