"""The mounts of this process's mount namespace, from /proc/self/mountinfo (proc(5)): the
mount point is field 5, the file system type the first field after the " - " separator;
spaces, tabs, newlines and backslashes in paths are written as octal escapes."""

from __future__ import annotations

import re
from typing import NamedTuple

_ESCAPE = re.compile(r"\\([0-7]{3})")


class Mount(NamedTuple):
    point: str
    fstype: str


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> list[Mount]:
    """Every mount, in the kernel's order (a parent before what is mounted on it)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, kind = left.split(), right.split()
        if len(fields) >= 5 and kind:
            found.append(Mount(_unescape(fields[4]), kind[0]))
    return found


def at_or_below(path: str) -> list[str]:
    """The mount points at `path` or below it, each once, parents first."""
    inside = path.rstrip("/") + "/"
    return list(dict.fromkeys(m.point for m in mounts()
                              if m.point == path or m.point.startswith(inside)))
