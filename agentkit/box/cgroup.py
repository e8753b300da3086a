"""Why the total memory of a box is not bounded on this machine, said precisely.

A bound for the whole box would be a cgroup v2 `memory.max` on a cgroup verify makes and
puts the box in: possible where a cgroup2 hierarchy is mounted, the memory controller is
enabled for verify's cgroup, and verify may write there (root, or a subtree delegated to the
caller: systemd-run --user --scope -p Delegate=yes). verify does not make one yet: this is
what the note tells the caller, with the first reason that applies here. Each process stays
bounded by RLIMIT_DATA (init._limits).
"""

from __future__ import annotations

import os

from agentkit import mountinfo


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _own_cgroup() -> str | None:
    """verify's cgroup v2 path ("0::/path" of /proc/self/cgroup), None if it has none."""
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def why_unbounded() -> str:
    """Why the box's memory total is not bounded here, as the end of a sentence."""
    mounts = mountinfo.mounts()
    v2 = [m.point for m in mounts if m.fstype == "cgroup2"]
    on_v1 = any(m.fstype == "cgroup" and os.path.basename(m.point).split(",").count("memory")
                for m in mounts)
    if not v2:
        return ("this machine has its memory controller on cgroup v1" if on_v1 else
                "this machine has no cgroup v2 hierarchy mounted")
    own = _own_cgroup()
    where = f"{v2[0].rstrip('/')}{own or '/'}".rstrip("/") or "/"
    controllers = (_read(f"{where}/cgroup.controllers") or "").split()
    if "memory" not in controllers:
        return ("this machine has its memory controller on cgroup v1, not v2" if on_v1 else
                f"the memory controller is not enabled for verify's cgroup ({where})")
    if not os.access(where, os.W_OK):
        return (f"verify may not make a cgroup in {where} (run it as root, or in a delegated "
                "cgroup: systemd-run --user --scope -p Delegate=yes)")
    return "verify makes no cgroup yet"
