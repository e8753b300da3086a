"""Walking, copying and removing directory trees of any depth, never following a symlink.

shutil.rmtree and os.walk recurse (before Python 3.12) and a bundle or a hook can make a tree
thousands of levels deep, past Python's recursion limit and past PATH_MAX. These go down and
up one directory descriptor at a time (openat with O_NOFOLLOW, then ".."), holding only the
names on the way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str) -> None:
    """rm -rf path: a link is removed, never followed; what cannot be removed is left
    (as `ignore_errors`), the rest goes."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    parent, name = os.path.split(os.path.abspath(path))
    try:
        top = os.open(parent, _DIR & ~os.O_NOFOLLOW)
    except OSError:
        return
    _remove_below(top, name)
    os.close(top)


def _remove_below(parent: int, name: str) -> None:
    """Remove the directory `name` of the open directory `parent`, depth first. One scan per
    directory: each level keeps the names of the subdirectories still to go down into."""
    try:
        cur = os.open(name, _DIR, dir_fd=parent)
    except OSError:
        return
    names = [name]  # the way down from `parent`
    pending = [_empty_files(cur)]  # per level: subdirectories not yet removed
    while True:
        below = -1
        while pending[-1] and below < 0:
            sub = pending[-1].pop()
            below = _open_below(cur, sub)
            if below >= 0:
                names.append(sub)
        if below >= 0:
            os.close(cur)
            cur = below
            pending.append(_empty_files(cur))
            continue
        up = os.open("..", _DIR & ~os.O_NOFOLLOW, dir_fd=cur)
        os.close(cur)
        pending.pop()
        with contextlib.suppress(OSError):  # left, as `ignore_errors` would
            os.rmdir(names.pop(), dir_fd=up)
        if not names:
            os.close(up)
            return
        cur = up


def _open_below(parent: int, name: str) -> int:
    """The directory `name` of `parent` opened, or -1. One of ours without read or search
    permission is given them first, through an O_PATH descriptor (chmod by name could follow
    a link put in its place)."""
    try:
        return os.open(name, _DIR, dir_fd=parent)
    except PermissionError:
        pass
    except OSError:
        return -1
    try:
        handle = os.open(name, os.O_PATH | _DIR, dir_fd=parent)
    except OSError:
        return -1
    try:
        mode = stat.S_IMODE(os.fstat(handle).st_mode)
        os.chmod(f"/proc/self/fd/{handle}", mode | stat.S_IRWXU)
        return os.open(name, _DIR, dir_fd=parent)
    except OSError:
        return -1
    finally:
        os.close(handle)


def _empty_files(fd: int) -> list[str]:
    """Unlink what is not a directory in the open directory; return its subdirectories."""
    with contextlib.suppress(OSError):  # a directory of ours that is not writable
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRWXU)
    try:
        entries = list(os.scandir(fd))
    except OSError:
        return []
    subdirs = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subdirs.append(entry.name)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.name, dir_fd=fd)
    return subdirs


def walk_files(top: str) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of everything below `top` that is not a directory, iteratively, not
    following links; directories that cannot be read are skipped."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
            else:
                yield entry.path, st


def copy_tree(src: str, dst: str) -> int:
    """Copy the directory src to dst (which must not exist), iteratively (any depth) and
    without following a link: links copied as links, devices, fifos and sockets remade,
    modes, times and extended attributes (ACLs) kept, owners where this user may set them
    (the count of those it may not is returned). Directories get their modes last, so a
    read-only one can be filled."""
    not_owned = 0
    os.mkdir(dst, 0o700)
    todo, made = [(src, dst)], []
    while todo:
        source, dest = todo.pop()
        made.append((source, dest))
        with os.scandir(source) as it:
            entries = list(it)
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            into = os.path.join(dest, entry.name)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(into, 0o700)
                todo.append((entry.path, into))
                continue
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(entry.path), into)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(entry.path, into, follow_symlinks=False)
            else:
                os.mknod(into, st.st_mode, st.st_rdev)
            not_owned += own_like(into, st)
            shutil.copystat(entry.path, into, follow_symlinks=False)
    for source, dest in reversed(made):  # a directory after everything below it
        st = os.lstat(source)
        not_owned += own_like(dest, st)
        shutil.copystat(source, dest, follow_symlinks=False)
    return not_owned


def own_like(path: str, st: os.stat_result) -> int:
    """Give path st's owner (before its mode: chown clears set-id bits); 1 if refused."""
    try:
        os.lchown(path, st.st_uid, st.st_gid)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL):  # EINVAL: an id this userns lacks
            raise
        return 1
    return 0


def resolve_in(path: str, base: str) -> str:
    """`path` with its links followed as a process whose / is `base` sees them (an image's
    absolute link points into the image); raises OSError(ELOOP) past 40 links."""
    todo, done, hops = [p for p in path.split("/") if p], "", 0
    while todo:
        part = todo.pop(0)
        if part in (".", ".."):
            done = os.path.dirname(done) if part == ".." else done
            continue
        here = f"{done}/{part}"
        if os.path.islink(base + here):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            target = os.readlink(base + here)
            todo = [p for p in target.split("/") if p and p != "."] + todo
            done = "" if target.startswith("/") else done
            continue
        done = here
    return done or "/"
