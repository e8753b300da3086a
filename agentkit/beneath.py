"""Opening a file below a directory without following any symlink on the way.

verify reads files of its throw-away root (the bundle's appspec and scripts, scripts.log, the
agent's markers) that the bundle or its hooks control. A symlink there must never make verify
read or write a file of this machine: each component is opened with O_NOFOLLOW relative to the
one before (openat2's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, which Python does not offer).
"""

from __future__ import annotations

import errno
import os


class Escapes(OSError):
    """The path meets a symlink (or `..`) below the root."""


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
        try:
            return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Escapes(errno.ELOOP, "a symlink", path) from None
            raise
    finally:
        os.close(fd)


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
