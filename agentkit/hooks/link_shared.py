"""`agentkit hook link-shared`: Capistrano's linked_dirs/linked_files, but safe.

Every link is made as a temporary link and rename()d over the final name, so the release
always has either the old entry or the new link. A real directory or file at the link path
(it came in the archive) is never deleted: it is moved aside, seeds an empty shared dir, or
the hook fails, as `on_conflict` says. Nothing is removed through a link, and nothing is
created when shared.root is not on the mount that `require_mount` demands.

Afterwards the agent's cleanup file no longer names what now lives on the share
(agent_cleanup.py): the next deployment would delete it there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import time
from typing import Any

from agentkit import fstree
from agentkit.errors import HookFailed
from agentkit.hooks import agent_cleanup, mounts, users
from agentkit.hooks.config import Config, Shared


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


def _make_dirs(path: str, shared: Shared, uid: int, gid: int, log: Any, dry: bool,
               what: str = "create shared dir") -> None:
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = os.path.dirname(probe)
    for directory in reversed(missing):
        log.info(what, path=directory, dry_run=dry)
        if dry:
            continue
        os.mkdir(directory)
        if shared.mode is not None:
            os.chmod(directory, shared.mode)
        if uid >= 0 or gid >= 0:
            os.lchown(directory, uid, gid)


def _link_target(cfg_link: str, shared_path: str, link_path: str) -> str:
    if cfg_link == "relative":
        return os.path.relpath(shared_path, os.path.dirname(link_path))
    return shared_path


_libc: Any = None


def exchange(a: str, b: str) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two names in one step. False where unsupported."""
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(_libc, "renameat2", None)
    if func is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


def _tmp_name(link_path: str) -> str:
    return f"{link_path}.agentkit-tmp"


def _copy_names(link_path: str) -> tuple[str, str]:
    """Where the copy route (_swap_by_copy) copies the archive's directory: while copying,
    and once the copy is whole."""
    return f"{link_path}.agentkit-copy", f"{link_path}.agentkit-copied"


def _left_name(link_path: str) -> str:
    """Where a killed run's copy of the archive's directory waits while this run swaps."""
    return f"{link_path}.agentkit-left"


def _seeding_name(shared_path: str) -> str:
    """Where a seed from another file system is copied whole, beside the shared dir."""
    return f"{shared_path}.agentkit-seeding"


def _recover(link_path: str, shared_path: str, log: Any) -> str | None:
    """A killed run may leave its temporary names behind: a link we made (removed), a copy
    or a seed it had not finished (removed: what they copied is still in the release), or
    the archive's directory moved or copied out of the way. That last one is returned, for
    this run to finish with (seed the share from it, or keep it as a backup); any other
    such leftover is kept as a backup at once."""
    tmp = _tmp_name(link_path)
    partial, copied = _copy_names(link_path)
    for ours in (partial, _seeding_name(shared_path)):
        if os.path.lexists(ours) and not os.path.islink(ours):
            fstree.remove_tree(ours)  # made by _copy_tree; never follows a link
    if os.path.islink(tmp):
        os.unlink(tmp)
    left = [old for old in (tmp, f"{tmp}-dir", copied, _left_name(link_path))
            if os.path.lexists(old)]
    for old in left[1:]:
        _move_aside(old, log, False, link_path)
    return left[0] if left else None


def _swap_in_link(target: str, link_path: str, log: Any) -> str | None:
    """Put the link at link_path in one atomic step; returns where a real directory that was
    there went (None if there was none). The temporary link never outlives an error."""
    tmp = _tmp_name(link_path)
    os.symlink(target, tmp)
    try:
        if os.path.isdir(link_path) and not os.path.islink(link_path):
            try:
                if exchange(tmp, link_path):
                    return tmp  # the old directory now lives at the temporary name
                os.rename(link_path, f"{tmp}-dir")  # old kernels: a short window without it
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                os.unlink(tmp)
                return _swap_by_copy(target, link_path, log)
            try:
                os.rename(tmp, link_path)
            except BaseException:
                os.rename(f"{tmp}-dir", link_path)  # put the archive's directory back
                raise
            return f"{tmp}-dir"
        os.rename(tmp, link_path)  # atomic over a file or an old link
        return None
    except BaseException:
        if os.path.islink(tmp):  # our link; after an exchange tmp is the old directory
            os.unlink(tmp)
        raise


def _swap_by_copy(target: str, link_path: str, log: Any) -> str:
    """The swap where the archive's directory cannot be renamed: overlayfs (verify's box, a
    container's root) refuses to rename a directory of its lower layer with EXDEV unless it
    was mounted with redirect_dir=on, and RENAME_EXCHANGE too. There it can only be copied.
    The copy is made whole under a name of its own before anything at link_path changes,
    then the original is removed (without following links) and the link made in its place.
    Killed while copying, the release still has the original and the next run discards the
    unfinished copy; killed later, the whole copy is there and the next run keeps it as a
    backup and completes the link. The one moment without an entry at link_path is between
    the removal of the original's last directory and symlink()."""
    partial, copied = _copy_names(link_path)
    log.info("this file system cannot rename the archive's directory (EXDEV: overlayfs); "
             "copying it aside instead", path=link_path, copy=copied)
    try:
        not_owned = fstree.copy_tree(link_path, partial)
    except BaseException as exc:
        fstree.remove_tree(partial)
        if isinstance(exc, OSError):
            raise HookFailed(
                f"{link_path}: this file system cannot rename the archive's directory "
                f"(overlayfs: EXDEV), and copying it aside failed at "
                f"{exc.filename2 or exc.filename or link_path}: {exc.strerror}. Nothing was "
                "changed; free the space or fix the access and run the hook again, or leave "
                "the directory out of the archive.") from None
        raise
    if not_owned:
        log.warning("copied with this user's ownership: lchown was refused", entries=not_owned,
                    copy=copied)
    os.rename(partial, copied)
    fstree.remove_tree(link_path)
    if os.path.lexists(link_path):
        raise HookFailed(
            f"{link_path}: the archive's directory was copied to {copied}, but not all of it "
            "could be removed to make room for the link (files made immutable, or a "
            "directory this user may not change). Fix that and run the hook again: it keeps "
            "the copy as a backup and completes the link.")
    os.symlink(target, link_path)
    return copied


def _move_aside(path: str, log: Any, dry: bool, name: str | None = None) -> str:
    backup = f"{name or path}.agentkit-backup-{time.strftime('%Y%m%d%H%M%S')}"
    n = 1
    while os.path.lexists(backup):
        n += 1
        backup = f"{name or path}.agentkit-backup-{time.strftime('%Y%m%d%H%M%S')}-{n}"
    log.warning("moved aside what the archive put at a shared path", path=path, backup=backup,
                dry_run=dry)
    if not dry:
        os.rename(path, backup)
    return backup


def _seed(path: str, shared_path: str, log: Any, dry: bool) -> None:
    """Fill the empty shared dir with the archive's directory at `path` in one step (as
    Deployer seeds): `path` takes the shared dir's owner and mode and is renamed over it
    (rename(2) replaces an empty directory atomically); from another file system (EFS) it
    is first copied whole beside the shared dir, then renamed. Killed at any point, the
    share is empty or complete, never partly seeded, and `path` is still there for the next
    run to seed from."""
    log.info("seed shared dir from the release", source=path, shared=shared_path, dry_run=dry)
    if dry:
        return
    st = os.lstat(shared_path)  # as _make_dirs made it (shared.owner/group/mode)
    fstree.own_like(path, st)
    os.chmod(path, stat.S_IMODE(st.st_mode))
    try:
        os.rename(path, shared_path)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    seeding = _seeding_name(shared_path)
    fstree.copy_tree(path, seeding)
    os.rename(seeding, shared_path)
    fstree.remove_tree(path)  # killed before this: the next run keeps it as a backup


def _resolve_conflict(kind: str, link_path: str, shared_path: str, shared: Shared,
                      log: Any, dry: bool) -> bool:
    """Deal with a real file or directory at the link path; True if it is still there (a
    directory, swapped out atomically when the link goes in)."""
    policy = shared.on_conflict
    if policy == "fail":
        raise HookFailed(f"{link_path} is a real {kind} (it came in the archive), where the "
                         f"link to {shared_path} belongs; on_conflict is fail. Remove it from "
                         "the archive, or set shared.on_conflict to backup or seed.")
    if kind == "directory":
        return True
    if policy == "seed" and os.path.getsize(shared_path) == 0:
        log.info("seed shared file from the release", source=link_path, dry_run=dry)
        if not dry:
            shutil.copy2(link_path, shared_path)
    _move_aside(link_path, log, dry)
    return False


def _after_swap(old: str, link_path: str, shared_path: str, shared: Shared, log: Any) -> None:
    """The archive's directory, now out of the release: seeds an empty share, else is kept
    as a backup (also when seeding fails: the first failure is the one reported)."""
    try:
        if shared.on_conflict == "seed" and os.path.isdir(shared_path) and \
                not os.listdir(shared_path):
            _seed(old, shared_path, log, False)
            return
    except BaseException:
        if os.path.lexists(old):
            with contextlib.suppress(OSError):
                _move_aside(old, log, False, link_path)
        raise
    _move_aside(old, log, False, link_path)


def _link_one(rel: str, kind: str, cfg: Config, shared: Shared, ids: tuple[int, int],
              log: Any, dry: bool) -> None:
    assert cfg.release is not None
    shared_path = os.path.join(shared.root, rel)
    link_path = os.path.join(cfg.release, rel)
    target = _link_target(shared.link, shared_path, link_path)
    left = None if dry else _recover(link_path, shared_path, log)
    if os.path.islink(link_path) and os.readlink(link_path) == target:
        log.info("link already right", link=link_path, target=target)
        if left is not None:  # a killed run's: finish what it was doing with it
            _after_swap(left, link_path, shared_path, shared, log)
        return
    if left is not None and left != _left_name(link_path):  # the swap below uses its name
        os.rename(left, _left_name(link_path))
        left = _left_name(link_path)
    if kind == "directory":
        _make_dirs(shared_path, shared, *ids, log, dry)
    else:
        _shared_file(rel, shared_path, link_path, shared, ids, log, dry)
    if os.path.lexists(link_path) and not os.path.islink(link_path):
        st = os.lstat(link_path)
        _resolve_conflict("directory" if stat.S_ISDIR(st.st_mode) else "file", link_path,
                          shared_path, shared, log, dry)
    _make_dirs(os.path.dirname(link_path), Shared(shared.root), -1, -1, log, dry,
               "create release dir")
    log.info("link", link=link_path, target=target, dry_run=dry)
    if dry:
        return
    old = _swap_in_link(target, link_path, log)
    for archived in (left, old):
        if archived is not None and os.path.lexists(archived):
            _after_swap(archived, link_path, shared_path, shared, log)


def _shared_file(rel: str, shared_path: str, link_path: str, shared: Shared,
                 ids: tuple[int, int], log: Any, dry: bool) -> None:
    if os.path.exists(shared_path):
        return
    has_release_copy = os.path.isfile(link_path) and not os.path.islink(link_path)
    if shared.missing_file == "fail":
        raise HookFailed(f"shared file {shared_path} does not exist (shared.files: {rel}). "
                         "Create it on the shared storage, or set shared.missing_file to touch "
                         "or seed.")
    _make_dirs(os.path.dirname(shared_path), shared, *ids, log, dry)
    if dry:
        log.info("create shared file", path=shared_path, dry_run=dry)
        return
    if shared.missing_file == "seed" and has_release_copy:
        log.info("seed shared file from the release", source=link_path, path=shared_path)
        shutil.copy2(link_path, shared_path)
    else:
        log.info("create empty shared file", path=shared_path)
        with open(shared_path, "a"):
            pass
    if ids != (-1, -1):
        os.lchown(shared_path, *ids)


def run(cfg: Config, log: Any, dry_run: bool = False) -> None:
    shared = cfg.shared
    if shared is None or cfg.release is None:
        raise HookFailed(f"{cfg.path}: link-shared needs `release` and `shared`.")
    _check_mount(shared)
    ids = users.ids(shared.owner, shared.group, "shared.owner/group")
    links = [os.path.join(cfg.release, rel) for rel in (*shared.dirs, *shared.files)]
    try:
        for rel in shared.dirs:
            _link_one(rel, "directory", cfg, shared, ids, log, dry_run)
        for rel in shared.files:
            _link_one(rel, "file", cfg, shared, ids, log, dry_run)
    except BaseException:
        # the links already made must not be emptied by the next deployment's cleanup either
        with contextlib.suppress(Exception):  # the first failure is the one to report
            agent_cleanup.keep_out([p for p in links if os.path.islink(p)], cfg.path, log,
                                   dry_run)
        raise
    agent_cleanup.keep_out(links if dry_run else [p for p in links if os.path.islink(p)],
                           cfg.path, log, dry_run)
