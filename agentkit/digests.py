"""The sha256 of a file, read in 1 MiB blocks (a bundle or an image is hundreds of MB)."""

from __future__ import annotations

import errno
import hashlib
import os

_ZEROS = bytes(1 << 20)


def file_sha256(path: str) -> str:
    """Hex sha256 of the file at `path`; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sparse_sha256(fd: int, size: int) -> str:
    """Hex sha256 of the first `size` bytes of the open file `fd`, reading only its data
    (lseek SEEK_DATA/SEEK_HOLE): a hole is hashed as the zeros it reads as, never read from
    the file system. A file that shrinks meanwhile is hashed as far as it goes."""
    digest = hashlib.sha256()
    pos = 0
    while pos < size:
        data = _seek(fd, pos, os.SEEK_DATA, size)
        _zeros(digest, min(data, size) - pos)  # data past `size`: only its zeros count
        if data >= size:
            break
        end = min(_seek(fd, data, os.SEEK_HOLE, size), size)
        os.lseek(fd, data, os.SEEK_SET)
        while data < end:
            chunk = os.read(fd, min(end - data, 1 << 20))
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
            data += len(chunk)
        pos = end
    return digest.hexdigest()


def _seek(fd: int, pos: int, how: int, size: int) -> int:
    """lseek's SEEK_DATA/SEEK_HOLE; `size` where there is no more data (ENXIO) or the file
    system cannot say (EINVAL: then all of it is data)."""
    try:
        return os.lseek(fd, pos, how)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return size
        if exc.errno == errno.EINVAL:
            return pos if how == os.SEEK_DATA else size
        raise


def _zeros(digest: hashlib._Hash, count: int) -> None:
    while count > 0:
        part = min(count, len(_ZEROS))
        digest.update(memoryview(_ZEROS)[:part])
        count -= part
