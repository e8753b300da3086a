"""`agentkit hook permissions`: owner, group and modes, safely and only where needed.

The walk never follows a symlink and stays on the rule's filesystem unless `cross_mounts`
(shared storage is usually another mount, often root-squashed NFS or an EFS access point).
An entry that is already right costs its lstat and nothing else. EPERM/EROFS/EACCES are
gathered into one summary instead of failing the deployment, unless `strict: true`.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import fnmatch
import json
import os
import pwd
import stat
from dataclasses import dataclass, field
from typing import Any

from agentkit.errors import HookFailed
from agentkit.hooks import mounts, users
from agentkit.hooks.config import Config, PermissionRule

DENIED = (errno.EPERM, errno.EROFS, errno.EACCES)
SPLIT_AT = 64  # directories in hand before a second process is worth its fork


@dataclass
class Tally:
    checked: int = 0
    changed: int = 0
    skipped_mounts: list[str] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)  # path, error


def _excluded(rel: str, rule: PermissionRule) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern.rstrip("/")) for pattern in rule.exclude)


def _fix(path: str, st: os.stat_result, rule: PermissionRule, ids: tuple[int, int],
         tally: Tally, dry: bool, dir_fd: int | None = None) -> None:
    """Change what differs; `path` is a name in dir_fd when one is given."""
    tally.checked += 1
    uid, gid = ids
    want_uid = st.st_uid if uid < 0 else uid
    want_gid = st.st_gid if gid < 0 else gid
    is_dir = stat.S_ISDIR(st.st_mode)
    mode = None if stat.S_ISLNK(st.st_mode) else (rule.dir_mode if is_dir else rule.file_mode)
    chown = (want_uid, want_gid) != (st.st_uid, st.st_gid)
    chmod = mode is not None and stat.S_IMODE(st.st_mode) != mode
    if not (chown or chmod):
        return
    tally.changed += 1
    if dry:
        return
    try:
        if chown:
            os.chown(path, want_uid, want_gid, dir_fd=dir_fd, follow_symlinks=False)
        if chmod:
            os.chmod(path, mode, dir_fd=dir_fd)  # type: ignore[arg-type]
    except OSError as exc:
        if exc.errno not in DENIED:
            raise
        tally.denied.append((path, os.strerror(exc.errno)))


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _walk(rule: PermissionRule, ids: tuple[int, int], tally: Tally, dry: bool) -> None:
    """Directory by directory through file descriptors: names are looked up relative to
    their directory (cheap), and a directory swapped for a symlink mid-walk is refused
    (O_NOFOLLOW) instead of followed. Big trees are split with a forked child, one half
    each: threads were measured slower (the GIL), a fork costs no imports."""
    root = rule.path
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        raise HookFailed(f"permissions: {root} does not exist; check the rule's path") from None
    except OSError as exc:  # a parent this user may not search (EACCES)
        if exc.errno not in DENIED:
            raise
        tally.denied.append((root, os.strerror(exc.errno)))
        return
    _fix(root, top, rule, ids, tally, dry)
    if not stat.S_ISDIR(top.st_mode):
        return
    queue: collections.deque[tuple[str, str]] = collections.deque([(root, "")])
    while queue and len(queue) < SPLIT_AT:  # breadth first until there is work to share
        queue.extend(_one_dir(queue.popleft(), rule, ids, tally, dry, top.st_dev))
    work = list(queue)
    if len(work) < SPLIT_AT:
        _drain(work, rule, ids, tally, dry, top.st_dev)
        return
    _split(work, rule, ids, tally, dry, top.st_dev)


def _drain(stack: list[tuple[str, str]], rule: PermissionRule, ids: tuple[int, int],
           tally: Tally, dry: bool, device: int) -> None:
    while stack:
        stack.extend(_one_dir(stack.pop(), rule, ids, tally, dry, device))


def _split(work: list[tuple[str, str]], rule: PermissionRule, ids: tuple[int, int],
           tally: Tally, dry: bool, device: int) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the odd directories, its tally back through the pipe
        os.close(read_end)
        status = 0
        try:
            theirs = Tally()
            _drain(work[1::2], rule, ids, theirs, dry, device)
            payload = json.dumps(dataclasses.asdict(theirs)).encode()
        except BaseException as exc:  # reported by the parent
            payload, status = json.dumps({"error": str(exc)}).encode(), 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(status)
    os.close(write_end)
    try:
        _drain(work[0::2], rule, ids, tally, dry, device)
    finally:
        with os.fdopen(read_end, "rb") as inp:
            data = json.loads(inp.read() or b"{}")
        os.waitpid(pid, 0)
    if "error" in data:
        raise HookFailed(f"permissions under {rule.path}: {data['error']}")
    tally.checked += data["checked"]
    tally.changed += data["changed"]
    tally.denied += [(d[0], d[1]) for d in data["denied"]]
    tally.skipped_mounts += data["skipped_mounts"]


def _one_dir(item: tuple[str, str], rule: PermissionRule, ids: tuple[int, int], tally: Tally,
             dry: bool, device: int) -> list[tuple[str, str]]:
    directory, rel_dir = item
    uid, gid = ids
    file_mode, dir_mode, excludes = rule.file_mode, rule.dir_mode, rule.exclude
    s_isdir, s_islnk, s_imode = stat.S_ISDIR, stat.S_ISLNK, stat.S_IMODE
    subdirs: list[tuple[str, str]] = []
    try:
        fd = os.open(directory, _DIR_FLAGS)
    except OSError as exc:  # EACCES: a directory this user (or squashed root) may not read
        if exc.errno not in DENIED:
            raise
        tally.denied.append((directory, os.strerror(exc.errno)))
        return subdirs
    try:
        with os.scandir(fd) as it:
            for entry in it:
                name = entry.name
                if excludes and _excluded(rel_dir + name, rule):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:  # EACCES: readable but not searchable
                    if exc.errno not in DENIED:
                        raise
                    tally.denied.append((f"{directory}/{name}", os.strerror(exc.errno)))
                    continue
                is_dir = s_isdir(st.st_mode)
                if is_dir:
                    if st.st_dev != device and not rule.cross_mounts:
                        tally.skipped_mounts.append(f"{directory}/{name}")
                        continue
                    subdirs.append((f"{directory}/{name}", f"{rel_dir}{name}/"))
                # The common case, inline: already right, nothing to call.
                mode = dir_mode if is_dir else (None if s_islnk(st.st_mode) else file_mode)
                if (uid < 0 or st.st_uid == uid) and (gid < 0 or st.st_gid == gid) and (
                        mode is None or s_imode(st.st_mode) == mode):
                    tally.checked += 1
                    continue
                before = len(tally.denied)
                _fix(name, st, rule, ids, tally, dry, fd)
                if len(tally.denied) != before:  # report the full path, not the name
                    tally.denied[-1] = (f"{directory}/{name}", tally.denied[-1][1])
    finally:
        os.close(fd)
    return subdirs


def _whoami() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _summary(rule: PermissionRule, tally: Tally) -> str:
    first = ", ".join(f"{p} ({e})" for p, e in tally.denied[:3])
    mount = mounts.mount_of(tally.denied[0][0])
    if mount.fstype.startswith("nfs"):
        cause = ("the filesystem is NFS/EFS: root is squashed to nobody, or an EFS access point "
                 "fixes the owner, so root cannot chown there")
    elif any("Read-only" in e for _, e in tally.denied):
        cause = "the filesystem is mounted read-only"
    elif os.geteuid() != 0:
        cause = (f"this hook runs as {_whoami()}, not root: it cannot give files to another "
                 "owner, may change the mode only of what it owns, and cannot enter "
                 "directories it may not read")
    else:
        cause = "the files are immutable (chattr +i) or the filesystem refuses root"
    return (f"could not change {len(tally.denied)} path(s) under {rule.path} on "
            f"{mount.mountpoint} ({mount.fstype}): {first}. Likely cause: {cause}. Exclude "
            "these paths, set ownership on the storage side, or set strict: true to fail on it.")


def run(cfg: Config, log: Any, dry_run: bool = False) -> Tally:
    total = Tally()
    for rule in cfg.permissions:
        tally = Tally()
        _walk(rule, users.ids(rule.owner, rule.group, f"permissions rule for {rule.path}"),
              tally, dry_run)
        log.info("permissions", path=rule.path, checked=tally.checked, changed=tally.changed,
                 dry_run=dry_run)
        for skipped in tally.skipped_mounts:
            log.info("not crossing into another mount", path=skipped)
        if tally.denied:
            summary = _summary(rule, tally)
            if rule.strict:
                raise HookFailed(summary)
            log.warning(summary)
        total.checked += tally.checked
        total.changed += tally.changed
        total.denied += tally.denied
        total.skipped_mounts += tally.skipped_mounts
    return total
