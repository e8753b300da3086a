"""Opening a file below a directory without following any symlink on the way.

verify reads files of its throw-away root (the bundle's appspec and scripts, scripts.log, the
agent's markers) that the bundle or its hooks control. A symlink there must never make verify
read or write a file of this machine: each component is opened with O_NOFOLLOW relative to the
one before (openat2's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, which Python does not offer). Nor
may a FIFO, socket or device there make verify wait or read a device: the file is opened
with O_NONBLOCK and must be a regular file (NotRegular otherwise).
"""

from __future__ import annotations

import errno
import os
import stat


class Escapes(OSError):
    """The path meets a symlink (or `..`) below the root."""


class NotRegular(OSError):
    """The file is a FIFO, socket, device or directory, where verify expects a regular one;
    strerror says which."""


def _kind(mode: int) -> str:
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "a directory" if stat.S_ISDIR(mode) else "not a file")


def regular(fd: int, path: str) -> int:
    """`fd` if it is a regular file; else it is closed and NotRegular raised."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    raise NotRegular(errno.EINVAL, f"{_kind(mode)}, not a regular file", path)


def open_regular(path: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """A descriptor of the regular file `path`, never through a final symlink, never
    waiting on a FIFO (a FIFO with no reader to write to is NotRegular too)."""
    return _open_last(None, path, flags, mode, path)


def open_beneath(root: str, path: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """A descriptor of root/path (path relative, or absolute inside root)."""
    rel = os.path.relpath(path, root) if os.path.isabs(path) else path
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise Escapes(errno.EXDEV, "not below its root", path)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(
                        os.path.join(f"/proc/self/fd/{fd}", part)):
                    raise Escapes(errno.ELOOP, "a symlink on the way", path) from None
                raise
            os.close(fd)
            fd = nxt
        return _open_last(fd, parts[-1], flags, mode, path)
    finally:
        os.close(fd)


def _open_last(dir_fd: int | None, name: str, flags: int, mode: int, path: str) -> int:
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
                     mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Escapes(errno.ELOOP, "a symlink", path) from None
        if exc.errno == errno.ENXIO:  # O_WRONLY|O_NONBLOCK on a FIFO without reader, a socket
            raise NotRegular(errno.ENXIO, "a FIFO or socket, not a regular file",
                             path) from None
        raise
    return regular(fd, path)


def read_beneath(root: str, path: str, limit: int) -> bytes:
    """At most `limit` bytes of root/path (raises Escapes for a symlink on the way)."""
    fd = open_beneath(root, path)
    try:
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def tail_beneath(root: str, path: str, start: int, limit: int) -> tuple[bytes, int]:
    """What root/path holds from byte `start` on, at most its last `limit` bytes; and the
    file's size."""
    fd = open_beneath(root, path)
    try:
        size = os.fstat(fd).st_size
        begin = max(start, size - limit)
        os.lseek(fd, begin, os.SEEK_SET)
        return os.read(fd, max(size - begin, 0)) if size > begin else b"", size
    finally:
        os.close(fd)
