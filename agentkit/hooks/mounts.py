"""Which mount holds a path, and of what type (psutil), for require_mount, permissions and
preflight. Only psutil is imported, and only when asked."""

from __future__ import annotations

import os
from dataclasses import dataclass

NETWORK = {"nfs": ("nfs", "nfs4"), "nfs4": ("nfs4",), "efs": ("nfs4", "efs")}


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    fstype: str
    device: str


def mount_of(path: str) -> Mount:
    """The mount whose mount point is the longest prefix of the (nearest existing) path."""
    import psutil

    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    real = os.path.realpath(probe)
    best = Mount("/", "unknown", "")
    for part in psutil.disk_partitions(all=True):
        mp = part.mountpoint
        inside = real == mp or real.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) >= len(best.mountpoint):
            best = Mount(mp, part.fstype, part.device)
    return best


def satisfies(mount: Mount, required: str) -> bool:
    if required == "none":
        return True
    if required == "any":
        return mount.mountpoint != "/"
    return mount.fstype in NETWORK[required]
