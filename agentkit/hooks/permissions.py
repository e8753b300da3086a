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
from agentkit.hooks import mounts, refusal, users
from agentkit.hooks.config import Config, PermissionRule
from agentkit.safefs import chase
from agentkit.safefs.dirfd import Dir, Tampered

DENIED = (errno.EPERM, errno.EROFS, errno.EACCES)
NO_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)  # one descriptor a level: a tree too deep
TOO_DEEP = "deeper than the descriptors this process may hold; left as it is"
SPLIT_AT = 64  # directories in hand before a second process is worth its fork


@dataclass
class Tally:
    checked: int = 0
    changed: int = 0
    skipped_mounts: list[str] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)  # path, error
    tampered: list[str] = field(default_factory=list)  # what stood where it should not
    hardlinked: list[str] = field(default_factory=list)  # left: linked files not the tree's


@dataclass(frozen=True)
class _Job:
    """One rule's walk: what to set, and whose tree it is (for the hard-link rule)."""
    rule: PermissionRule
    uid: int
    gid: int
    tree_uid: int
    device: int
    dry: bool


# A directory still to enter: the open directory holding it, its name, its listed lstat and
# its path relative to the rule's path (for `exclude`).
_Item = tuple[Dir, str, os.stat_result, str]


def _excluded(rel: str, rule: PermissionRule) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern.rstrip("/")) for pattern in rule.exclude)


def _fix(d: Dir, name: str, st: os.stat_result, job: _Job, tally: Tally) -> None:
    """Change what differs, on a descriptor of the very entry listed (safefs)."""
    tally.checked += 1
    want_uid = st.st_uid if job.uid < 0 else job.uid
    want_gid = st.st_gid if job.gid < 0 else job.gid
    is_dir = stat.S_ISDIR(st.st_mode)
    mode = None if stat.S_ISLNK(st.st_mode) else \
        (job.rule.dir_mode if is_dir else job.rule.file_mode)
    chown = (want_uid, want_gid) != (st.st_uid, st.st_gid)
    chmod = mode is not None and stat.S_IMODE(st.st_mode) != mode
    if not (chown or chmod):
        return
    if not is_dir and st.st_nlink > 1 and (st.st_uid == 0 or st.st_uid != job.tree_uid):
        # systemd-tmpfiles' rule: another name of this file may be outside the tree (a hard
        # link the application user made to a file of root's); changing it would change
        # that. Only a linked file that already is the (non-root) owner's own is changed.
        tally.hardlinked.append(d.join(name))
        return
    tally.changed += 1
    if job.dry:
        return
    try:
        d.set_attrs(name, st, *((want_uid, want_gid) if chown else (-1, -1)),
                    mode if chmod else None)
    except Tampered as exc:
        tally.tampered.append(refusal.describe(exc))
    except OSError as exc:
        if exc.errno in NO_DESCRIPTORS:
            tally.tampered.append(f"{d.join(name)}: {TOO_DEEP}")
            return
        if exc.errno not in DENIED:
            raise
        tally.denied.append((d.join(name), os.strerror(exc.errno)))


def _walk(rule: PermissionRule, ids: tuple[int, int], tally: Tally, dry: bool) -> None:
    """Directory by directory through descriptors (safefs): each directory is entered from
    its parent's descriptor with O_NOFOLLOW and checked to be the one listed, each change
    made on a descriptor of the entry listed, so a swap mid-walk is refused, never followed.
    Big trees are split with a forked child, one half each: threads were measured slower
    (the GIL), a fork costs no imports."""
    try:
        parent, name = chase.locate(rule.path)
    except FileNotFoundError:
        raise HookFailed(f"permissions: {rule.path} does not exist; check the rule's "
                         "path") from None
    except Tampered as exc:
        tally.tampered.append(refusal.describe(exc))
        return
    except OSError as exc:  # a parent this user may not search (EACCES)
        if exc.errno not in DENIED:
            raise
        tally.denied.append((rule.path, os.strerror(exc.errno)))
        return
    with parent:
        top = parent.lstat(name)
        if top is None:
            raise HookFailed(f"permissions: {rule.path} does not exist; check the rule's path")
        job = _Job(rule, *ids, ids[0] if ids[0] >= 0 else top.st_uid, top.st_dev, dry)
        _fix(parent, name, top, job, tally)
        if stat.S_ISDIR(top.st_mode):
            _walk_below((parent, name, top, ""), job, tally)


def _walk_below(first: _Item, job: _Job, tally: Tally) -> None:
    opened: list[Dir] = []
    try:
        queue: collections.deque[_Item] = collections.deque([first])
        while queue and len(queue) < SPLIT_AT and len(opened) < 4 * SPLIT_AT:
            entered = _enter(queue.popleft(), tally)  # breadth first until work to share
            if entered is not None:
                opened.append(entered[0])
                queue.extend(_one_dir(entered, job, tally))
        work = list(queue)
        if len(work) < SPLIT_AT:
            _drain(work, job, tally)
        else:
            _split(work, job, tally)
    finally:
        for d in opened:
            d.close()


def _enter(item: _Item, tally: Tally) -> tuple[Dir, str] | None:
    parent, name, st, rel = item
    try:
        return parent.subdir(name, st), rel
    except Tampered as exc:
        tally.tampered.append(refusal.describe(exc))
    except OSError as exc:  # EACCES: a directory this user (or squashed root) may not read
        if exc.errno in NO_DESCRIPTORS:
            tally.tampered.append(f"{parent.join(name)}: {TOO_DEEP}")
            return None
        if exc.errno not in DENIED:
            raise
        tally.denied.append((parent.join(name), os.strerror(exc.errno)))
    return None


def _drain(items: list[_Item], job: _Job, tally: Tally) -> None:
    """Depth first from each item: one open descriptor per level."""
    for item in items:
        entered = _enter(item, tally)
        if entered is None:
            continue
        levels = [(entered[0], _one_dir(entered, job, tally))]
        while levels:
            d, pending = levels[-1]
            if not pending:
                levels.pop()
                d.close()
                continue
            below = _enter(pending.pop(), tally)
            if below is not None:
                levels.append((below[0], _one_dir(below, job, tally)))


def _split(work: list[_Item], job: _Job, tally: Tally) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the odd directories, its tally back through the pipe
        os.close(read_end)
        status = 0
        try:
            theirs = Tally()
            _drain(work[1::2], job, theirs)
            payload = json.dumps(dataclasses.asdict(theirs)).encode()
        except BaseException as exc:  # reported by the parent
            payload, status = json.dumps({"error": str(exc)}).encode(), 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(status)
    os.close(write_end)
    try:
        _drain(work[0::2], job, tally)
    finally:
        with os.fdopen(read_end, "rb") as inp:
            data = json.loads(inp.read() or b"{}")
        os.waitpid(pid, 0)
    if "error" in data:
        raise HookFailed(f"permissions under {job.rule.path}: {data['error']}")
    tally.checked += data["checked"]
    tally.changed += data["changed"]
    tally.denied += [(d[0], d[1]) for d in data["denied"]]
    tally.skipped_mounts += data["skipped_mounts"]
    tally.tampered += data["tampered"]
    tally.hardlinked += data["hardlinked"]


def _one_dir(entered: tuple[Dir, str], job: _Job, tally: Tally) -> list[_Item]:
    d, rel_dir = entered
    uid, gid, rule = job.uid, job.gid, job.rule
    file_mode, dir_mode, excludes = rule.file_mode, rule.dir_mode, rule.exclude
    s_isdir, s_islnk, s_imode = stat.S_ISDIR, stat.S_ISLNK, stat.S_IMODE
    subdirs: list[_Item] = []
    try:
        entries = d.entries()
    except OSError as exc:  # EACCES: readable but not searchable
        if exc.errno in NO_DESCRIPTORS:
            tally.tampered.append(f"{d.path}: {TOO_DEEP}")
            return subdirs
        if exc.errno not in DENIED:
            raise
        tally.denied.append((d.path, os.strerror(exc.errno)))
        return subdirs
    for name, st in entries:
        if excludes and _excluded(rel_dir + name, rule):
            continue
        is_dir = s_isdir(st.st_mode)
        if is_dir:
            if st.st_dev != job.device and not rule.cross_mounts:
                tally.skipped_mounts.append(d.join(name))
                continue
            subdirs.append((d, name, st, f"{rel_dir}{name}/"))
        # The common case, inline: already right, nothing to call.
        mode = dir_mode if is_dir else (None if s_islnk(st.st_mode) else file_mode)
        if (uid < 0 or st.st_uid == uid) and (gid < 0 or st.st_gid == gid) and (
                mode is None or s_imode(st.st_mode) == mode):
            tally.checked += 1
            continue
        _fix(d, name, st, job, tally)
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
        for what in tally.tampered:
            log.warning(f"left alone: {what}; someone who can write this tree may be "
                        "tampering with it", rule=rule.path)
        if tally.hardlinked:
            log.warning("not changed: files with another name elsewhere (hard links) that "
                        "the tree's owner does not own; changing them would change that other "
                        "name too (systemd-tmpfiles' rule)", rule=rule.path,
                        paths=tally.hardlinked[:10], count=len(tally.hardlinked))
        if tally.denied:
            summary = _summary(rule, tally)
            if rule.strict:
                raise HookFailed(summary)
            log.warning(summary)
        total.checked += tally.checked
        total.changed += tally.changed
        total.denied += tally.denied
        total.skipped_mounts += tally.skipped_mounts
        total.tampered += tally.tampered
        total.hardlinked += tally.hardlinked
    return total
