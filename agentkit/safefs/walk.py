"""Removing and copying whole trees through a stack of directory descriptors.

Each directory is entered with O_NOFOLLOW from the descriptor of its parent and checked to
be the entry just listed (st_dev, st_ino); going back up pops the stack, never opens `..`
(that climb is how a directory moved away mid-walk once led a removal out of its tree). A
directory of another file system (a mount point) is not entered. What stands where a
directory was listed and is not the listed directory is left alone and reported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import stat
from dataclasses import dataclass, field

from agentkit.safefs import marks, syscalls
from agentkit.safefs.dirfd import Dir, Tampered

_limit_raised = False


def room_for_depth() -> None:
    """One descriptor per level: let this process use its hard limit, once."""
    global _limit_raised
    if _limit_raised:
        return
    _limit_raised = True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 20), hard))


@dataclass
class Left:
    """What a walk did not do, path and why."""
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, why: str) -> None:
        self.items.append((path, why))


def _enter(parent: Dir, name: str, st: os.stat_result, top_dev: int, left: Left) -> Dir | None:
    if st.st_dev != top_dev:
        left.add(parent.join(name), "another file system (a mount point): not entered")
        return None
    try:
        return parent.subdir(name, st)
    except Tampered as exc:
        left.add(exc.path, exc.strerror or "changed")
    except OSError as exc:
        left.add(parent.join(name), exc.strerror or str(exc))
    return None


def remove_tree(parent: Dir, name: str) -> Left:
    """rm -rf of `name` in `parent`: a link is removed, never followed; what cannot be
    removed is left and returned."""
    left = Left()
    st = parent.lstat(name)
    if st is None:
        return left
    if not stat.S_ISDIR(st.st_mode):
        _unlink(parent, name, left)
        return left
    room_for_depth()
    top = _enter(parent, name, st, st.st_dev, left)
    if top is None:
        return left
    levels: list[tuple[Dir, str, list[tuple[str, os.stat_result]]]] = \
        [(top, name, _empty_files(top, left))]
    while levels:
        here, _, pending = levels[-1]
        below = None
        while pending and below is None:
            sub, sub_st = pending.pop()
            below = _enter(here, sub, sub_st, st.st_dev, left)
            if below is not None:
                levels.append((below, sub, _empty_files(below, left)))
        if below is not None:
            continue
        done, done_name, _ = levels.pop()
        done.close()
        holder = levels[-1][0] if levels else parent
        try:
            holder.rmdir(done_name)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                left.add(holder.join(done_name), exc.strerror or str(exc))
    return left


def _unlink(d: Dir, name: str, left: Left) -> None:
    try:
        d.unlink(name)
    except OSError as exc:
        left.add(d.join(name), exc.strerror or str(exc))


def _empty_files(d: Dir, left: Left) -> list[tuple[str, os.stat_result]]:
    """Unlink what is not a directory; return the subdirectories (name, lstat)."""
    with contextlib.suppress(OSError):  # a read-only directory of ours must be emptied
        mode = stat.S_IMODE(d.stat().st_mode)
        if mode & stat.S_IRWXU != stat.S_IRWXU:
            os.fchmod(d.fd, mode | stat.S_IRWXU)
    try:
        entries = d.entries()
    except OSError as exc:
        left.add(d.path, exc.strerror or str(exc))
        return []
    subdirs = []
    for name, st in entries:
        if stat.S_ISDIR(st.st_mode):
            subdirs.append((name, st))
        else:
            _unlink(d, name, left)
    return subdirs


def copy_tree(src: Dir, dst_parent: Dir, dst_name: str, mark: bool = False) -> int:
    """Copy the directory `src` to the new directory `dst_name` of `dst_parent`: links as
    links, FIFOs and devices remade, sockets skipped, files read with O_NOFOLLOW (each the
    entry listed), owners (where this user may: the count refused is returned), modes,
    times and extended attributes (ACLs) kept. The copy is 0700 until each directory is
    complete, so nobody else can enter or change it while it is made; `mark`: its top
    directory carries safefs.marks' mark (the source's own mark is not copied)."""
    room_for_depth()
    dst_parent.mkdir(dst_name, 0o700)
    top = _ours(dst_parent, dst_name)
    if mark:  # a killed run's copy is then known for ours (safefs.marks)
        marks.mark(top.fd)
    not_owned = 0
    levels = [(Dir(os.dup(src.fd), src.path), top, src.stat(), _listing(src))]
    while levels:
        s, d, s_st, pending = levels[-1]
        if not pending:
            levels.pop()
            copy_xattrs(s.fd, d.fd)
            not_owned += _finish(d.fd, s_st)
            s.close()
            d.close()
            continue
        name, st = pending.pop()
        if stat.S_ISDIR(st.st_mode):
            d.mkdir(name, 0o700)
            sub = s.subdir(name, st)
            levels.append((sub, d.subdir(name), st, _listing(sub)))
            continue
        try:
            not_owned += _copy_entry(s, d, name, st)
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, d.join(name)) from None
    return not_owned


def _ours(parent: Dir, name: str) -> Dir:
    """The directory just made at `name`, and no other: the parent may be writable by
    others, who could put a directory of theirs there. Ours is this user's, for nobody else
    (0700, or less under the umask) and empty;
    nobody else can enter it, so all the copy makes inside is safe from them until its modes
    are set, last."""
    made = parent.subdir(name)
    st = made.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o077 or made.entries():
        made.close()
        raise Tampered(parent.join(name), f"a directory not made by this copy (uid "
                       f"{st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})",
                       "the empty 0700 directory it had just made")
    return made


def made(parent: Dir, name: str) -> Dir:
    """The directory this process just made at `name` (mkdir), and not another swapped in
    since by whoever may write `parent`: this user's and empty (one that is empty and this
    user's gives nothing away when it is then given an owner)."""
    opened = parent.subdir(name)
    st = opened.stat()
    if st.st_uid != os.geteuid() or opened.entries():
        opened.close()
        raise Tampered(parent.join(name), f"another directory (uid {st.st_uid})",
                       "the empty one just made")
    return opened


def _listing(d: Dir) -> list[tuple[str, os.stat_result]]:
    return sorted(d.entries(), reverse=True)


def _copy_entry(s: Dir, d: Dir, name: str, st: os.stat_result) -> int:
    if stat.S_ISLNK(st.st_mode):
        target = s.readlink(name)
        if target is None:
            raise Tampered(s.join(name), "another entry", "the symlink listed")
        d.symlink(target, name)
        fd = d.handle(name)
        try:
            return _owner(fd, st, handle=True)
        finally:
            os.close(fd)
    if stat.S_ISREG(st.st_mode):
        fd_in = s.open_file(name, expect=st)
        try:
            fd_out = d.create(name, 0o600)
            try:
                _copy_data(fd_in, fd_out)
                copy_xattrs(fd_in, fd_out)
                return _finish(fd_out, st)
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)
    if stat.S_ISSOCK(st.st_mode):
        return 0  # a socket is bound by its server again; nothing to copy
    os.mknod(name, st.st_mode, st.st_rdev, dir_fd=d.fd)
    fd = d.handle(name)
    try:
        return _owner(fd, st, handle=True)
    finally:
        os.close(fd)


def _copy_data(fd_in: int, fd_out: int) -> None:
    while True:
        try:
            done = os.sendfile(fd_out, fd_in, None, 1 << 24)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
            done = 0
            chunk = os.read(fd_in, 1 << 20)
            while chunk:
                os.write(fd_out, chunk)
                chunk = os.read(fd_in, 1 << 20)
        if done == 0:
            return


def _owner(fd: int, st: os.stat_result, handle: bool) -> int:
    try:
        if handle:
            syscalls.fchown_handle(fd, st.st_uid, st.st_gid)
        else:
            os.fchown(fd, st.st_uid, st.st_gid)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL):  # EINVAL: an id this userns lacks
            raise
        return 1
    return 0


def _finish(fd: int, st: os.stat_result) -> int:
    """Owner, then mode (chown clears set-id bits) and times of a file or directory open at
    `fd`."""
    refused = _owner(fd, st, handle=False)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    return refused


def copy_xattrs(src_fd: int, dst_fd: int) -> None:
    """Extended attributes (POSIX ACLs among them) from one open file to another."""
    try:
        names = os.listxattr(src_fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM):
            return
        raise
    for xname in names:
        if xname in ("trusted.agentkit", "user.agentkit"):
            continue  # a mark is the copy's own (safefs.marks)
        with contextlib.suppress(OSError):
            os.setxattr(dst_fd, xname, os.getxattr(src_fd, xname))

