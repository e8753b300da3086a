"""Whose user and group ids the box gets (user_namespaces(7), subuid(5), newuidmap(1)).

Three cases, one value:
- **shifted** (verify runs as real root): box uid 0..65535 are host uids BASE..BASE+65535.
  Root in the box is nobody on the host, so it has no power over host files, sysctls, the
  kernel log or the clock; the host's files are shown through idmapped mounts, so a file the
  host's root owns is root's in the box.
- **range** (a user with a /etc/subuid and /etc/subgid range, and newuidmap installed): box 0
  is the caller, box 1..N the caller's subordinate ids, so `runas: www-data` and chown in
  hooks work. Host files the caller does not own show as nobody (65534).
- **single** (no range, or no newuidmap): box 0 is the caller and nothing else exists; hooks
  run as root of the box only.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from agentkit import proc

ROOT_BASE = 0x70000000  # far above any uid a distribution hands out (useradd stops at 60000)
SPAN = 65536
OVERFLOW = 65534  # what an id with no mapping shows as (/proc/sys/kernel/overflowuid)


@dataclass(frozen=True)
class IdMap:
    kind: str  # shifted, range or single
    uids: tuple[tuple[int, int, int], ...]  # (inside, outside, count) lines of uid_map
    gids: tuple[tuple[int, int, int], ...]
    note: str = ""  # what the box cannot do with this map, for the report

    def inside(self, host_uid: int, lines: tuple[tuple[int, int, int], ...] | None = None
               ) -> int | None:
        """The box id a host id shows as (None: it has no mapping)."""
        for inner, outer, count in self.uids if lines is None else lines:
            if outer <= host_uid < outer + count:
                return inner + host_uid - outer
        return None

    @property
    def top(self) -> int:
        """The highest box uid that exists."""
        return max(inner + count - 1 for inner, _, count in self.uids)


def _ranges(path: str, user: str, uid: int) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if count > 0:
            found.append((start, count))
    return sorted(found, key=lambda r: -r[1])


def choose(uid: int | None = None, gid: int | None = None) -> IdMap:
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    if uid == 0:
        base = ROOT_BASE
        for start, count in _ranges("/etc/subuid", "root", 0):
            if count >= SPAN and start > 0:
                base = start
                break
        lines = ((0, base, SPAN),)
        return IdMap("shifted", lines, lines)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    subuids, subgids = _ranges("/etc/subuid", user, uid), _ranges("/etc/subgid", user, uid)
    tools = proc.which("newuidmap") and proc.which("newgidmap")
    if subuids and subgids and tools:
        (us, uc), (gs, gc) = subuids[0], subgids[0]
        return IdMap("range", ((0, uid, 1), (1, us, min(uc, SPAN - 1))),
                     ((0, gid, 1), (1, gs, min(gc, SPAN - 1))))
    why = ("newuidmap is not installed (Debian/Ubuntu: apt-get install uidmap)" if not tools
           else f"{user} has no range in /etc/subuid and /etc/subgid "
                f"(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user})")
    return IdMap("single", ((0, uid, 1),), ((0, gid, 1),),
                 note=f"hooks run as root of the box only: {why}, so `runas` users and chown "
                      "to other owners cannot be shown")


def write(idmap: IdMap, pid: int) -> None:
    """Give the process `pid`, just entered into a new user namespace, its maps."""
    if idmap.kind == "range":
        for tool, lines in (("newuidmap", idmap.uids), ("newgidmap", idmap.gids)):
            words = [str(n) for line in lines for n in line]
            done = proc.run([tool, str(pid), *words], timeout=10)
            if done.returncode != 0:
                said = done.stderr.strip() or str(done.returncode)
                raise OSError(said if said.startswith(f"{tool}:") else f"{tool}: {said}")
        return
    if idmap.kind == "single":
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")  # an unprivileged writer of gid_map must give up setgroups
    for name, lines in (("uid_map", idmap.uids), ("gid_map", idmap.gids)):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write("".join(f"{a} {b} {c}\n" for a, b, c in lines))
