"""A configured path (agentkit.yml's shared.root, release, health.file...) opened from `/`.

Such a path may pass through links an administrator made (`current -> releases/X`, `/srv ->
/mnt/efs`), so links are followed, but only where nobody less privileged can have put them
or swapped them since: the directory holding the link is root's or the caller's and nobody
else may write it (or it is sticky, as /tmp, and the link is root's or the caller's). A link
anywhere else (the application user's upload directory, a share it owns) is `Tampered`.
Every directory on the way is entered with O_NOFOLLOW and checked to be the one just looked
at; `..` in a link's target goes back along the directories already open, never up from the
one at hand. This is systemd's chase() with CHASE_SAFE, and what openat2's RESOLVE_* flags
cannot express (they refuse every link).
"""

from __future__ import annotations

import collections
import errno
import os
import stat
from typing import Callable

from agentkit.safefs.dirfd import DIR_FLAGS, Dir, Tampered, kind

MAX_LINKS = 40  # as the kernel's own limit for one lookup

Make = Callable[[Dir, str], None]  # makes a missing directory `name` in `Dir`


def trusted(st: os.stat_result) -> bool:
    """Nobody but root and this process's user can change what the directory holds."""
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def may_follow(directory: os.stat_result, link: os.stat_result) -> bool:
    if trusted(directory):
        return True
    sticky_safe = directory.st_mode & stat.S_ISVTX and directory.st_uid in (0, os.geteuid())
    return bool(sticky_safe) and link.st_uid in (0, os.geteuid())


def open_dir(path: str, make: Make | None = None) -> Dir:
    """The directory at the absolute `path`; `make` is called for each missing component
    (else FileNotFoundError)."""
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path!r}")
    stack = [Dir(os.open("/", DIR_FLAGS), "/")]
    try:
        _walk(stack, collections.deque(path.split("/")), path, make)
        top = stack.pop()
        top.path = path
        return top
    finally:
        for d in stack:
            d.close()


def locate(path: str, make: Make | None = None) -> tuple[Dir, str]:
    """The directory holding `path` (opened as open_dir does), and the last name, which is
    not looked at: the caller opens it with the check it needs."""
    parent, name = os.path.split(path.rstrip("/"))
    if name in ("", ".", ".."):
        raise ValueError(f"not a path to an entry: {path!r}")
    return open_dir(parent or "/", make), name


def _walk(stack: list[Dir], todo: collections.deque[str], path: str,
          make: Make | None) -> None:
    hops = 0
    while todo:
        part = todo.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if len(stack) > 1:
                stack.pop().close()
            continue
        here = stack[-1]
        st = here.lstat(part)
        if st is None:
            if make is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT),
                                        here.join(part))
            make(here, part)
            st = here.lstat(part)
            if st is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT),
                                        here.join(part))
        if stat.S_ISLNK(st.st_mode):
            if not may_follow(here.stat(), st):
                raise Tampered(here.join(part), _whose_link(st, here), "a directory")
            hops += 1
            if hops > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            target = here.readlink(part) or ""
            if target.startswith("/"):
                while len(stack) > 1:
                    stack.pop().close()
            todo.extendleft(reversed(target.split("/")))
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise Tampered(here.join(part), kind(st.st_mode), "a directory")
        stack.append(here.subdir(part, st))


def _whose_link(link: os.stat_result, directory: Dir) -> str:
    st = directory.stat()
    return (f"a symlink (uid {link.st_uid}) in a directory others may write (uid {st.st_uid}, "
            f"mode {stat.S_IMODE(st.st_mode):04o})")
