"""What verify tells the box to show (Item) and what the box tells back (Change): plain values
that cross the channel as JSON lists, a regular file's bytes as a descriptor beside them.

Everything read from the box is checked here before anyone uses it: the box runs the bundle's
code, so its side of the channel is not trusted (paths must be absolute and normal, numbers
numbers).
"""

from __future__ import annotations

import os
import stat
from typing import Any, NamedTuple

DIR, FILE, SYMLINK, GONE, OTHER = "dir", "file", "symlink", "gone", "other"
KINDS = (DIR, FILE, SYMLINK, GONE, OTHER)


class BadMessage(ValueError):
    """The box sent something that is not a well-formed value."""


class Item(NamedTuple):
    """A path as the box must show it. A FILE's bytes come as the descriptor `fd` (an index
    into the message's descriptors); GONE hides what a lower layer has there; `opaque`: a
    directory whose lower layers' content does not show."""

    path: str
    kind: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime: float | None = None
    target: str | None = None
    fd: int | None = None
    opaque: bool = False
    size: int = 0


class Change(NamedTuple):
    """A path the hooks changed: what is there now (GONE: nothing). A FILE's bytes come as
    the descriptor `fd`, or, past the size the box sends, only as their `sha256`. A directory
    that became `opaque` lists in `names` what it still holds (the rest is gone)."""

    path: str
    kind: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime: float = 0.0
    size: int = 0
    target: str | None = None
    fd: int | None = None
    sha256: str | None = None
    names: list[str] | None = None


def check_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or \
            os.path.normpath(value) != value or "\0" in value:
        raise BadMessage(f"not an absolute normal path: {value!r}")
    return value


def _int(value: Any, low: int = 0, high: int = 1 << 32) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
        raise BadMessage(f"not a number in range: {value!r}")
    return value


def _opt_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadMessage(f"not text: {value!r}")
    return value


def item_from(raw: Any, nfds: int) -> Item:
    if not isinstance(raw, list) or len(raw) != len(Item._fields):
        raise BadMessage(f"not an item: {raw!r}")
    item = Item(*raw)
    if item.kind not in KINDS:
        raise BadMessage(f"unknown kind {item.kind!r}")
    check_path(item.path)
    _int(item.mode, 0, 0o10000)
    _int(item.uid)
    _int(item.gid)
    if item.fd is not None:
        _int(item.fd, 0, nfds)
    _opt_str(item.target)
    return item


def change_from(raw: Any, nfds: int) -> Change:
    if not isinstance(raw, list) or len(raw) != len(Change._fields):
        raise BadMessage(f"not a change: {raw!r}")
    change = Change(*raw)
    if change.kind not in KINDS:
        raise BadMessage(f"unknown kind {change.kind!r}")
    check_path(change.path)
    _int(change.mode, 0, 0o10000)
    _int(change.uid)
    _int(change.gid)
    _int(change.size, 0, 1 << 62)
    if not isinstance(change.mtime, (int, float)) or change.mtime != change.mtime:
        raise BadMessage(f"not a time: {change.mtime!r}")
    if change.fd is not None:
        _int(change.fd, 0, nfds)
    _opt_str(change.target)
    _opt_str(change.sha256)
    if change.names is not None and not (isinstance(change.names, list) and all(
            isinstance(n, str) and n and "/" not in n and n not in (".", "..")
            for n in change.names)):
        raise BadMessage(f"not a list of names: {change.names!r}")
    return change


def kind_of(mode: int) -> str:
    return (DIR if stat.S_ISDIR(mode) else FILE if stat.S_ISREG(mode)
            else SYMLINK if stat.S_ISLNK(mode) else OTHER)
