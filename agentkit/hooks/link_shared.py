"""`agentkit hook link-shared`: Capistrano's linked_dirs/linked_files, but safe.

Every link is made as a temporary link and rename()d over the final name, so the release
always has either the old entry or the new link. A real directory or file at the link path
(it came in the archive) is never deleted: it is moved aside, seeds an empty shared dir, or
the hook fails, as `on_conflict` says. Nothing is removed through a link, and nothing is
created when shared.root is not on the mount that `require_mount` demands.

Everything happens relative to directory descriptors (safefs): the release and the share are
opened once, each directory below them entered without following a link, new files made
with O_EXCL under names nobody can guess and renamed into place. A link planted in the
share (which the application user owns) is replaced or refused, never written through;
shared files are written as the share's owner where that owner may do all of it.

Afterwards the agent's cleanup file no longer names what now lives on the share
(agent_cleanup.py): the next deployment would delete it there.

Over 500 lines: one action whose every step runs as root over a tree the app's user
writes; the steps share their open directories and are read together when judged for safety.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from dataclasses import dataclass
from typing import Any

from agentkit.errors import HookFailed
from agentkit.hooks import agent_cleanup, mounts, refusal, users
from agentkit.hooks.config import Config, Shared
from agentkit.safefs import chase, drop, marks, syscalls, walk
from agentkit.safefs.dirfd import Dir, Tampered, kind


def _check_mount(shared: Shared) -> None:
    mount = mounts.mount_of(shared.root)
    if not mounts.satisfies(mount, shared.require_mount):
        wanted = "a separate mount" if shared.require_mount == "any" else \
            f"an {shared.require_mount} mount"
        raise HookFailed(
            f"shared.root {shared.root} is on {mount.mountpoint} ({mount.fstype}), not on "
            f"{wanted}: the shared storage is not mounted, so nothing was created (uploads "
            "would land on the local disk). Mount it (check /etc/fstab and `mount -a`) and "
            "run the deployment again.")


@dataclass(frozen=True)
class _Link:
    """One shared path: where its link goes in the release and what it points at."""
    rel: str
    kind: str  # directory or file
    link_path: str
    shared_path: str
    target: str

    @property
    def name(self) -> str:
        return os.path.basename(self.rel)

    @property
    def parent(self) -> str:
        return os.path.dirname(self.rel)


def exchange(a: str, b: str) -> bool:
    """renameat2(RENAME_EXCHANGE) of two paths: swap two names in one step. False where
    unsupported. (For this process's own trees; the hooks use Dir.exchange.)"""
    return syscalls.renameat2(-100, a, -100, b, syscalls.RENAME_EXCHANGE)


# --- temporary names, all in the release's directory of the link --------------------------
def _tmp_name(name: str) -> str:
    return f"{name}.agentkit-tmp"


def _copy_names(name: str) -> tuple[str, str]:
    """Where the copy route (_swap_by_copy) copies the archive's directory: while copying,
    and once the copy is whole."""
    return f"{name}.agentkit-copy", f"{name}.agentkit-copied"


def _left_name(name: str) -> str:
    """Where a killed run's copy of the archive's directory waits while this run swaps."""
    return f"{name}.agentkit-left"


def _seeding_name(name: str) -> str:
    """Where a seed from another file system is copied whole, beside the shared dir."""
    return f"{name}.agentkit-seeding"


def _is_dir(d: Dir, name: str) -> bool:
    st = d.lstat(name)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _remove(d: Dir, name: str, log: Any) -> None:
    for path, why in walk.remove_tree(d, name).items[:20]:
        log.warning("left in place while removing", path=path, reason=why)


def _remove_ours(d: Dir, name: str, log: Any) -> None:
    """Remove a copy a killed run left unfinished, if it is ours (safefs.marks): a name
    proves nothing in a tree another user can write (a directory of root's renamed to it
    would be removed in its place)."""
    with d.subdir(name) as copy:
        ours = marks.marked(copy.fd)
    if ours:
        _remove(d, name, log)
    else:
        log.warning("left alone: not a copy of agentkit's, though at its name (someone may be "
                    "tampering with this tree)", path=d.join(name))


def _recover(rdir: Dir, sdir: Dir, link: _Link, log: Any) -> str | None:
    """A killed run may leave its temporary names behind: a link we made (removed), a copy
    or a seed it had not finished (removed: what they copied is still in the release), or
    the archive's directory moved or copied out of the way. That last one is returned, for
    this run to finish with (seed the share from it, or keep it as a backup); any other
    such leftover is kept as a backup at once."""
    name = link.name
    tmp = _tmp_name(name)
    partial, copied = _copy_names(name)
    for d, unfinished in ((rdir, partial), (sdir, _seeding_name(name))):
        if _is_dir(d, unfinished):
            _remove_ours(d, unfinished, log)
    left = []
    for old in (tmp, f"{tmp}-dir", copied, _left_name(name)):
        st = rdir.lstat(old)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            left.append(old)
            continue
        # we only ever leave our link or the archive's directory at these names: anything
        # else (a hard link to a file of root's, planted) is removed, never used
        if not stat.S_ISLNK(st.st_mode):
            log.warning("removed what stood at a temporary name of agentkit's (not ours: "
                        "someone may be tampering with this tree)", path=rdir.join(old))
        rdir.unlink(old)
    for old in left[1:]:
        _move_aside(rdir, old, log, False, name)
    return left[0] if left else None


def _swap_in_link(rdir: Dir, link: _Link, log: Any) -> str | None:
    """Put the link at its name in one atomic step; returns where a real directory that was
    there went (None if there was none). The temporary link never outlives an error."""
    name, tmp = link.name, _tmp_name(link.name)
    rdir.symlink(link.target, tmp)
    try:
        if _is_dir(rdir, name):
            try:
                if rdir.exchange(tmp, rdir, name):
                    return tmp  # the old directory now lives at the temporary name
                rdir.rename(name, rdir, f"{tmp}-dir")  # old kernels: a short window
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                rdir.unlink(tmp)
                return _swap_by_copy(rdir, link, log)
            try:
                rdir.rename(tmp, rdir, name)
            except BaseException:
                rdir.rename(f"{tmp}-dir", rdir, name)  # put the archive's directory back
                raise
            return f"{tmp}-dir"
        rdir.rename(tmp, rdir, name)  # atomic over a file or an old link
        return None
    except BaseException:
        tmp_st = rdir.lstat(tmp)
        if tmp_st is not None and stat.S_ISLNK(tmp_st.st_mode):  # ours; not the old dir
            rdir.unlink(tmp)
        raise


def _swap_by_copy(rdir: Dir, link: _Link, log: Any) -> str:
    """The swap where the archive's directory cannot be renamed: overlayfs (verify's box, a
    container's root) refuses to rename a directory of its lower layer with EXDEV unless it
    was mounted with redirect_dir=on, and RENAME_EXCHANGE too. There it can only be copied.
    The copy is made whole under a name of its own before anything at the link changes,
    then the original is removed (without following links) and the link made in its place.
    Killed while copying, the release still has the original and the next run discards the
    unfinished copy; killed later, the whole copy is there and the next run keeps it as a
    backup and completes the link. The one moment without an entry at the link is between
    the removal of the original's last directory and symlink()."""
    name = link.name
    partial, copied = _copy_names(name)
    log.info("this file system cannot rename the archive's directory (EXDEV: overlayfs); "
             "copying it aside instead", path=link.link_path, copy=rdir.join(copied))
    try:
        with rdir.subdir(name) as original:
            not_owned = walk.copy_tree(original, rdir, partial, mark=True)
    except BaseException as exc:
        _remove(rdir, partial, log)
        if isinstance(exc, OSError) and not isinstance(exc, Tampered):
            raise HookFailed(
                f"{link.link_path}: this file system cannot rename the archive's directory "
                f"(overlayfs: EXDEV), and copying it aside failed at "
                f"{exc.filename2 or exc.filename or link.link_path}: {exc.strerror}. Nothing "
                "was changed; free the space or fix the access and run the hook again, or "
                "leave the directory out of the archive.") from None
        raise
    if not_owned:
        log.warning("copied with this user's ownership: lchown was refused", entries=not_owned,
                    copy=rdir.join(copied))
    rdir.rename(partial, rdir, copied)
    _remove(rdir, name, log)
    if rdir.lstat(name) is not None:
        raise HookFailed(
            f"{link.link_path}: the archive's directory was copied to {rdir.join(copied)}, but "
            "not all of it could be removed to make room for the link (files made immutable, "
            "or a directory this user may not change). Fix that and run the hook again: it "
            "keeps the copy as a backup and completes the link.")
    rdir.symlink(link.target, name)
    return copied


def _move_aside(d: Dir, name: str, log: Any, dry: bool, base: str | None = None) -> str:
    stem = f"{base or name}.agentkit-backup-{time.strftime('%Y%m%d%H%M%S')}"
    backup, n = stem, 1
    while d.lstat(backup) is not None:
        n += 1
        backup = f"{stem}-{n}"
    log.warning("moved aside what the archive put at a shared path", path=d.join(name),
                backup=d.join(backup), dry_run=dry)
    if not dry:
        d.rename(name, d, backup)
    return backup


def _seed(rdir: Dir, old: str, sdir: Dir, link: _Link, log: Any) -> None:
    """Fill the empty shared dir with the archive's directory `old` in one step (as
    Deployer seeds): it takes the shared dir's owner and mode and is renamed over it
    (rename(2) replaces an empty directory atomically, and replaces a link, never follows
    it); from another file system (EFS) it is first copied whole beside the shared dir (a
    0700 directory of root's while it is made), then renamed. Killed at any point, the
    share is empty or complete, never partly seeded, and `old` is still there for the next
    run to seed from."""
    name = link.name
    log.info("seed shared dir from the release", source=rdir.join(old),
             shared=link.shared_path, dry_run=False)
    st = sdir.lstat(name)  # as _make_dirs made it (shared.owner/group/mode)
    source = rdir.lstat(old)
    if st is None or source is None:
        raise HookFailed(f"link-shared: {link.shared_path}: the shared dir went away while "
                         "seeding it (someone removed or replaced it); run the deployment "
                         "again.")
    if not stat.S_ISDIR(source.st_mode):
        raise Tampered(rdir.join(old), f"{kind(source.st_mode)}", "the archive's directory")
    if not _readable_by(source, st.st_uid, st.st_gid):
        # the seed takes the share's owner: a directory that owner could not read (one of
        # root's that someone renamed to the archive's name) would hand it over
        raise _NotSeeded(rdir.join(old), source, st.st_uid)
    try:
        rdir.set_attrs(old, source, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL) or isinstance(exc, Tampered):
            raise
    try:
        rdir.rename(old, sdir, name)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    seeding = _seeding_name(name)
    with rdir.subdir(old, source) as tree:
        walk.copy_tree(tree, sdir, seeding, mark=True)
    sdir.rename(seeding, sdir, name)
    _remove(rdir, old, log)  # killed before this: the next run keeps it as a backup


class _NotSeeded(Exception):
    """The directory may not seed the share: it is kept as a backup instead."""

    def __init__(self, path: str, st: os.stat_result, uid: int) -> None:
        super().__init__(f"{path} (uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}) may "
                         f"not be read by the share's owner (uid {uid}): not given to it")


def _readable_by(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether uid (with gid and its groups) may list and enter the directory `st` now."""
    if uid == 0 or st.st_mode & 0o005 == 0o005:
        return True
    if st.st_uid == uid:
        return st.st_mode & 0o500 == 0o500
    return st.st_mode & 0o050 == 0o050 and st.st_gid in drop.owner_groups(uid, gid)


def _shared_is_empty_dir(sdir: Dir, name: str) -> bool:
    st = sdir.lstat(name)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return False
    with sdir.subdir(name, st) as shared_dir:
        return not shared_dir.entries()


def _after_swap(rdir: Dir, old: str, sdir: Dir, link: _Link, shared: Shared,
                log: Any) -> None:
    """The archive's directory, now out of the release: seeds an empty share, else is kept
    as a backup (also when seeding fails: the first failure is the one reported)."""
    try:
        if shared.on_conflict == "seed" and _shared_is_empty_dir(sdir, link.name):
            _seed(rdir, old, sdir, link, log)
            return
    except _NotSeeded as exc:
        log.warning(f"not seeded: {exc}; kept as a backup (someone may be tampering with this "
                    "tree)")
    except BaseException:
        if rdir.lstat(old) is not None:
            with contextlib.suppress(OSError):
                _move_aside(rdir, old, log, False, link.name)
        raise
    _move_aside(rdir, old, log, False, link.name)


# --- the shared side ----------------------------------------------------------------------
def _maker(shared: Shared, ids: tuple[int, int], log: Any, what: str) -> Any:
    def make(d: Dir, name: str) -> None:
        log.info(what, path=d.join(name), dry_run=False)
        with contextlib.suppress(FileExistsError):
            d.mkdir(name, 0o777)  # the umask's mode, as mkdir(1), unless shared.mode says
            with walk.made(d, name) as made:
                made.set_owner_mode(*ids, shared.mode)
    return make


def _open_below(base: Dir, rel: str, make: Any) -> Dir:
    """base/rel, each component entered without following a link, made where missing."""
    here = Dir(os.dup(base.fd), base.path)
    for part in [p for p in rel.split("/") if p]:
        if here.lstat(part) is None:
            make(here, part)
        try:
            nxt = here.subdir(part)
        finally:
            here.close()
        here = nxt
    return here


def _write_shared_file(sdir: Dir, name: str, source_fd: int, mode: int,
                       ids: tuple[int, int]) -> None:
    """A new shared file with the bytes of `source_fd` (none for -1), made whole under a
    name nobody can guess and renamed into place (a link planted there is replaced, not
    followed)."""
    sdir.write_atomic(name, b"", mode, ids, source=source_fd if source_fd >= 0 else None)


def _fill_shared_file(rdir: Dir | None, sdir: Dir, link: _Link, ids: tuple[int, int],
                      log: Any) -> None:
    """The shared file from the release's copy (seed) or empty (touch), as the share's
    owner where that owner may give the file its owner: the release's file is opened here
    (as root, never through a link) and only read in the step."""
    source_fd, mode = -1, 0o644
    if rdir is not None:
        st = rdir.lstat(link.name)
        if st is not None and stat.S_ISREG(st.st_mode):
            source_fd = rdir.open_file(link.name, expect=st)
            mode = stat.S_IMODE(st.st_mode)
            try:
                _may_share(link, os.fstat(source_fd), sdir.stat(), ids)
            except BaseException:
                os.close(source_fd)
                raise
    try:
        log.info("seed shared file from the release" if source_fd >= 0 else
                 "create empty shared file", source=link.link_path, path=link.shared_path)
        drop.run_as(*drop.acting_owner(sdir.stat(), ids), _write_shared_file, sdir,
                    link.name, source_fd, mode, ids)
    finally:
        if source_fd >= 0:
            os.close(source_fd)


def _may_share(link: _Link, source: os.stat_result, share: os.stat_result,
               ids: tuple[int, int]) -> None:
    """The release's file may seed the share only if whoever will own the shared copy could
    read it: the release may hold, at this name, a file of root's that the application
    user moved there (a private key renamed to config/db.yml), and copying it to the share
    would hand its content to that user."""
    uid = share.st_uid if ids[0] < 0 else ids[0]
    gid = share.st_gid if ids[1] < 0 else ids[1]
    if uid == 0 or source.st_mode & stat.S_IROTH or (source.st_uid == uid and
                                                    source.st_mode & stat.S_IRUSR):
        return
    if source.st_mode & stat.S_IRGRP and source.st_gid in drop.owner_groups(uid, gid):
        return
    raise HookFailed(
        f"{link.link_path}: not copied to {link.shared_path}: it may be read only by uid "
        f"{source.st_uid} (mode {stat.S_IMODE(source.st_mode):04o}), and the shared copy "
        f"would belong to uid {uid}, who could then read it. Make the release's file "
        "readable by that user if it is meant to be shared, or create the shared file "
        "yourself.")


def _shared_file(rdir: Dir | None, sdir: Dir, link: _Link, shared: Shared,
                 ids: tuple[int, int], log: Any, dry: bool) -> None:
    st = sdir.lstat(link.name)
    if st is not None and stat.S_ISLNK(st.st_mode):
        log.warning("the shared file is a symlink: left as it is, not followed or written "
                    "through", path=link.shared_path)
        return
    if st is not None:
        return
    if shared.missing_file == "fail":
        raise HookFailed(f"shared file {link.shared_path} does not exist (shared.files: "
                         f"{link.rel}). Create it on the shared storage, or set "
                         "shared.missing_file to touch or seed.")
    if dry:
        log.info("create shared file", path=link.shared_path, dry_run=dry)
        return
    _fill_shared_file(rdir if shared.missing_file == "seed" else None, sdir, link, ids, log)


def _resolve_conflict(rdir: Dir, sdir: Dir, link: _Link, shared: Shared,
                      ids: tuple[int, int], log: Any, dry: bool) -> None:
    """A real file or directory at the link's name: a directory stays (swapped out
    atomically when the link goes in); a file seeds an empty shared file and is moved
    aside."""
    st = rdir.lstat(link.name)
    if st is None or stat.S_ISLNK(st.st_mode):
        return
    kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    if shared.on_conflict == "fail":
        raise HookFailed(f"{link.link_path} is a real {kind} (it came in the archive), where "
                         f"the link to {link.shared_path} belongs; on_conflict is fail. "
                         "Remove it from the archive, or set shared.on_conflict to backup or "
                         "seed.")
    if kind == "directory":
        return
    target = sdir.lstat(link.name)
    if shared.on_conflict == "seed" and target is not None and \
            stat.S_ISREG(target.st_mode) and target.st_size == 0:
        log.info("seed shared file from the release", source=link.link_path, dry_run=dry)
        if not dry:
            _fill_shared_file(rdir, sdir, link, (target.st_uid, target.st_gid), log)
    _move_aside(rdir, link.name, log, dry)


# --- one link -----------------------------------------------------------------------------
def _link_one(link: _Link, release: Dir, sroot: Dir | None, shared: Shared,
              ids: tuple[int, int], log: Any, dry: bool) -> None:
    if dry:
        _dry_one(link, release, sroot, shared, log)
        return
    assert sroot is not None
    make_shared = _maker(shared, ids, log, "create shared dir")
    with _open_below(sroot, link.parent, make_shared) as sdir, \
            _open_below(release, link.parent, _maker(Shared(shared.root), (-1, -1), log,
                                                     "create release dir")) as rdir:
        left = _recover(rdir, sdir, link, log)
        if rdir.readlink(link.name) == link.target:
            log.info("link already right", link=link.link_path, target=link.target)
            if left is not None:  # a killed run's: finish what it was doing with it
                _after_swap(rdir, left, sdir, link, shared, log)
            return
        if left is not None and left != _left_name(link.name):  # the swap uses its name
            rdir.rename(left, rdir, _left_name(link.name))
            left = _left_name(link.name)
        if link.kind == "directory":
            if sdir.lstat(link.name) is None:
                make_shared(sdir, link.name)
            sdir.subdir(link.name).close()  # a real directory, not a link planted there
        else:
            _shared_file(rdir, sdir, link, shared, ids, log, dry)
        _resolve_conflict(rdir, sdir, link, shared, ids, log, dry)
        log.info("link", link=link.link_path, target=link.target, dry_run=dry)
        old = _swap_in_link(rdir, link, log)
        for archived in (left, old):
            if archived is not None and rdir.lstat(archived) is not None:
                _after_swap(rdir, archived, sdir, link, shared, log)


def _dry_one(link: _Link, release: Dir, sroot: Dir | None, shared: Shared, log: Any) -> None:
    """What a run would do, from what is there; nothing is made or changed."""
    if sroot is None or not _exists_below(sroot, link.rel):
        log.info("create shared dir" if link.kind == "directory" else "create shared file",
                 path=link.shared_path, dry_run=True)
        if link.kind == "file" and shared.missing_file == "fail":
            raise HookFailed(f"shared file {link.shared_path} does not exist (shared.files: "
                             f"{link.rel}). Create it on the shared storage, or set "
                             "shared.missing_file to touch or seed.")
    if _exists_below(release, link.rel) and not _is_link_below(release, link.rel):
        if shared.on_conflict == "fail":
            raise HookFailed(f"{link.link_path} is a real entry (it came in the archive), "
                             f"where the link to {link.shared_path} belongs; on_conflict is "
                             "fail. Remove it from the archive, or set shared.on_conflict to "
                             "backup or seed.")
        log.warning("moved aside what the archive put at a shared path",
                    path=link.link_path, dry_run=True)
    log.info("link", link=link.link_path, target=link.target, dry_run=True)


def _exists_below(base: Dir, rel: str) -> bool:
    parent, name = os.path.split(rel)
    try:
        with base.beneath(parent) as d:
            return d.lstat(name) is not None
    except OSError:
        return False


def _is_link_below(base: Dir, rel: str) -> bool:
    parent, name = os.path.split(rel)
    try:
        with base.beneath(parent) as d:
            st = d.lstat(name)
            return st is not None and stat.S_ISLNK(st.st_mode)
    except OSError:
        return False


def _links(cfg: Config, shared: Shared) -> list[_Link]:
    assert cfg.release is not None
    out = []
    for what, rels in (("directory", shared.dirs), ("file", shared.files)):
        for rel in rels:
            shared_path = os.path.join(shared.root, rel)
            link_path = os.path.join(cfg.release, rel)
            target = os.path.relpath(shared_path, os.path.dirname(link_path)) \
                if shared.link == "relative" else shared_path
            out.append(_Link(rel, what, link_path, shared_path, target))
    return out


def _open_roots(cfg: Config, shared: Shared, ids: tuple[int, int], log: Any,
                dry: bool) -> tuple[Dir, Dir | None]:
    assert cfg.release is not None
    try:
        release = chase.open_dir(cfg.release)
    except FileNotFoundError:
        raise HookFailed(f"release {cfg.release} does not exist: link-shared links into an "
                         "installed release; check `release` in agentkit.yml.") from None
    except Tampered as exc:
        raise refusal.failed(f"release {cfg.release}", exc) from None
    try:
        sroot = chase.open_dir(shared.root, None if dry else
                               _maker(shared, ids, log, "create shared dir"))
    except FileNotFoundError:
        sroot = None  # dry run: it would be made
    except Tampered as exc:
        release.close()
        raise refusal.failed(f"shared.root {shared.root}", exc) from None
    return release, sroot


def run(cfg: Config, log: Any, dry_run: bool = False) -> None:
    shared = cfg.shared
    if shared is None or cfg.release is None:
        raise HookFailed(_needs(cfg))
    _check_mount(shared)
    ids = users.ids(shared.owner, shared.group, "shared.owner/group")
    links = _links(cfg, shared)
    release, sroot = _open_roots(cfg, shared, ids, log, dry_run)
    made: list[str] = []
    try:
        with release:
            for link in links:
                try:
                    _link_one(link, release, sroot, shared, ids, log, dry_run)
                except Tampered as exc:
                    raise refusal.failed(f"link-shared {link.rel}", exc) from None
                if dry_run or _is_link_below(release, link.rel):
                    made.append(link.link_path)
    except BaseException:
        # the links already made must not be emptied by the next deployment's cleanup either
        with contextlib.suppress(Exception):  # the first failure is the one to report
            agent_cleanup.keep_out(made, cfg.path, log, dry_run)
        raise
    finally:
        if sroot is not None:
            sroot.close()
    agent_cleanup.keep_out(made, cfg.path, log, dry_run)


def _needs(cfg: Config) -> str:
    if cfg.releases is not None:
        return (f"{cfg.path}: link-shared links into one release (`release:`), and this "
                "config uses `releases:`, where `agentkit hook release` runs link-shared on "
                "each new release itself. Run `agentkit hook release` (AfterInstall), or "
                "name the release to link with `release:`.")
    return f"{cfg.path}: link-shared needs `release` and `shared`."
