"""`Dir`: an open directory, and every operation relative to it.

Names are single components, looked up in the directory the descriptor holds (never `..`,
never a path), and nothing is followed: a directory or file is opened with O_NOFOLLOW and
checked with fstat to be what was expected, and when the caller listed it first, to be the
very entry listed (st_dev, st_ino). Anything else stands there is `Tampered`: the caller
leaves it alone and says so. New files are made with O_CREAT | O_EXCL | O_NOFOLLOW, owners
and modes changed on O_PATH descriptors of the checked entry, never by name.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from typing import Any, Callable, TypeVar, cast

from agentkit.safefs import pause, syscalls

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISREG, "a regular file"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def kind(mode: int) -> str:
    """What a mode says an entry is, in words."""
    return next((word for test, word in _KINDS if test(mode)), "an unknown type")


class Tampered(OSError):
    """At `path` stands something other than what was expected: a link where a directory or
    file was, another type, or not the entry that was listed there a moment before. It was
    not followed, opened or changed."""

    def __init__(self, path: str, found: str, expected: str) -> None:
        super().__init__(errno.ELOOP, f"{found} stands where {expected} was expected", path)
        self.path, self.found, self.expected = path, found, expected

    def __reduce__(self) -> tuple[type[Tampered], tuple[str, str, str]]:
        return Tampered, (self.path, self.found, self.expected)

    def __str__(self) -> str:
        return f"{self.path}: {self.strerror}"


F = TypeVar("F", bound=Callable[..., Any])


def _paths(method: F) -> F:
    """An OSError of an *at() call names only the entry; give it the whole path, for the
    message the user reads (its type, and so every `except FileNotFoundError`, kept)."""
    @functools.wraps(method)
    def wrapper(self: Dir, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, name, *args, **kwargs)
        except OSError as exc:
            if isinstance(exc, Tampered) or exc.filename not in (name, None):
                raise
            raise type(exc)(exc.errno, exc.strerror, self.join(name)) from None
    return cast(F, wrapper)


def same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class Dir:
    """An open directory (its descriptor) and the path it was reached by, for messages."""

    __slots__ = ("fd", "path")

    def __init__(self, fd: int, path: str) -> None:
        self.fd, self.path = fd, path

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def join(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd)

    # --- looking ---------------------------------------------------------------------------
    @_paths
    def lstat(self, name: str) -> os.stat_result | None:
        """The entry's own stat, or None when there is none."""
        pause.point("lstat", self.fd, name)
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def entries(self) -> list[tuple[str, os.stat_result]]:
        """(name, lstat) of what the directory holds; an entry gone meanwhile is left out."""
        pause.point("scandir", self.fd, "")
        out = []
        with os.scandir(self.fd) as it:
            for entry in it:
                try:
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    continue
        return out

    @_paths
    def readlink(self, name: str) -> str | None:
        """The link's target; None when `name` is not a link (or not there)."""
        pause.point("readlink", self.fd, name)
        try:
            return os.readlink(name, dir_fd=self.fd)
        except (FileNotFoundError, OSError) as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                return None
            raise

    # --- opening ---------------------------------------------------------------------------
    @_paths
    def subdir(self, name: str, expect: os.stat_result | None = None) -> Dir:
        """The directory `name`, never through a link; `expect`: the entry listed there."""
        _one(name)
        pause.point("open", self.fd, name)
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            st = self.lstat(name)
            raise Tampered(self.join(name), kind(st.st_mode) if st else "nothing",
                           "a directory") from None
        if expect is not None and not same(os.fstat(fd), expect):
            os.close(fd)
            raise Tampered(self.join(name), "another directory", "the one listed")
        return Dir(fd, self.join(name))

    def beneath(self, rel: str) -> Dir:
        """The directory at the relative path `rel`, every component a real directory."""
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts:
            return Dir(os.dup(self.fd), self.path)
        for part in parts:
            _one(part)
        pause.point("open", self.fd, rel)
        try:
            fd = syscalls.openat2_beneath(self.fd, "/".join(parts), DIR_FLAGS)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV):
                raise
            fd = None  # the walk below names the component that is not a directory
        if fd is not None:
            return Dir(fd, self.join("/".join(parts)))
        here = self
        for part in parts:
            nxt = here.subdir(part)
            if here is not self:
                here.close()
            here = nxt
        return here

    @_paths
    def handle(self, name: str, expect: os.stat_result | None = None) -> int:
        """An O_PATH descriptor of the entry itself (a link is not followed), checked to be
        the one listed: for chown and chmod, which must not act on a swapped-in entry."""
        _one(name)
        pause.point("open", self.fd, name)
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        if expect is not None:
            now = os.fstat(fd)
            if not same(now, expect) or stat.S_IFMT(now.st_mode) != stat.S_IFMT(expect.st_mode):
                os.close(fd)
                raise Tampered(self.join(name), f"another entry ({kind(now.st_mode)})",
                               f"the {kind(expect.st_mode)[2:]} listed")
        return fd

    @_paths
    def open_file(self, name: str, flags: int = os.O_RDONLY,
                  expect: os.stat_result | None = None, mode: int = 0o600) -> int:
        """A regular file, never through a link, and never blocking on a FIFO or device
        (`flags` may add O_CREAT: a link at the name is refused, not followed)."""
        _one(name)
        pause.point("open", self.fd, name)
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC |
                         os.O_NOCTTY, mode, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise Tampered(self.join(name), "a symlink", "a regular file") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (expect is not None and not same(st, expect)):
            os.close(fd)
            found = "another file" if stat.S_ISREG(st.st_mode) else kind(st.st_mode)
            raise Tampered(self.join(name), found, "a regular file")
        if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
            # written to, a file with another name may be written elsewhere (a hard link to
            # a file of root's that someone made at this name)
            os.close(fd)
            raise Tampered(self.join(name), "a file with another name elsewhere (a hard "
                           "link)", "a file of its own")
        os.set_blocking(fd, True)
        return fd

    def read(self, name: str, limit: int) -> bytes:
        """At most `limit` bytes of the regular file `name`."""
        fd = self.open_file(name)
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

    # --- changing --------------------------------------------------------------------------
    @_paths
    def create(self, name: str, mode: int) -> int:
        """A new file, made here and nowhere else (FileExistsError if anything is there)."""
        _one(name)
        pause.point("create", self.fd, name)
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                       os.O_CLOEXEC | os.O_NOCTTY, mode, dir_fd=self.fd)

    def write_atomic(self, name: str, data: bytes, mode: int,
                     ids: tuple[int, int] = (-1, -1), source: int | None = None) -> None:
        """Replace (or make) `name` with `data` (or, with `source`, what that open file
        holds) whole: a new file under a name nobody can guess, fsync, rename over `name` (a
        link there is replaced, never written through), fsync of the directory."""
        tmp = f".{name}.agentkit-{os.urandom(6).hex()}"
        fd = self.create(tmp, 0o600)
        try:
            if source is None:
                _write_all(fd, data)
            else:
                os.lseek(source, 0, os.SEEK_SET)
                for chunk in iter(lambda: os.read(source, 1 << 20), b""):
                    _write_all(fd, chunk)
            if ids != (-1, -1):
                os.fchown(fd, *ids)
            os.fchmod(fd, mode)  # after chown, which clears set-id bits
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.unlink(tmp)
            raise
        os.close(fd)
        try:
            self.rename(tmp, self, name)
        except BaseException:
            self.unlink(tmp)
            raise
        self.fsync()

    def remove_temporaries(self, name: str) -> list[str]:
        """Unlink what killed runs of write_atomic left for `name`; a directory there is
        left alone. Returns the names removed."""
        prefix = f".{name}.agentkit-"
        gone = []
        for entry, st in self.entries():
            if entry.startswith(prefix) and not stat.S_ISDIR(st.st_mode):
                self.unlink(entry)
                gone.append(entry)
        return gone

    @_paths
    def mkdir(self, name: str, mode: int = 0o700) -> None:
        _one(name)
        pause.point("mkdir", self.fd, name)
        os.mkdir(name, mode, dir_fd=self.fd)

    def symlink(self, target: str, name: str) -> None:
        _one(name)
        pause.point("symlink", self.fd, name)
        try:
            os.symlink(target, name, dir_fd=self.fd)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, self.join(name)) from None

    @_paths
    def unlink(self, name: str, missing_ok: bool = True) -> None:
        """Remove the entry `name` (a link itself, never its target)."""
        _one(name)
        pause.point("unlink", self.fd, name)
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            if not missing_ok:
                raise

    @_paths
    def rmdir(self, name: str) -> None:
        _one(name)
        pause.point("rmdir", self.fd, name)
        os.rmdir(name, dir_fd=self.fd)

    @_paths
    def rename(self, name: str, to: Dir, to_name: str) -> None:
        _one(name)
        _one(to_name)
        pause.point("rename", self.fd, name)
        os.rename(name, to_name, src_dir_fd=self.fd, dst_dir_fd=to.fd)

    @_paths
    def rename_noreplace(self, name: str, to: Dir, to_name: str) -> bool:
        """rename, failing with FileExistsError where to_name exists; False where the kernel
        or file system cannot promise that (the caller decides)."""
        _one(name)
        _one(to_name)
        pause.point("rename", self.fd, name)
        return syscalls.renameat2(self.fd, name, to.fd, to_name, syscalls.RENAME_NOREPLACE)

    @_paths
    def exchange(self, name: str, to: Dir, to_name: str) -> bool:
        """Swap two entries in one step; False where the kernel or file system cannot."""
        _one(name)
        _one(to_name)
        pause.point("exchange", self.fd, name)
        return syscalls.renameat2(self.fd, name, to.fd, to_name, syscalls.RENAME_EXCHANGE)

    @_paths
    def set_attrs(self, name: str, expect: os.stat_result, uid: int = -1, gid: int = -1,
                  mode: int | None = None) -> None:
        """Owner (-1 keeps) and then mode (None keeps; chown clears set-id bits) of the entry
        listed as `expect`, on a descriptor of that very entry (a link: the link itself,
        whose mode is never set)."""
        fd = self.handle(name, expect)
        try:
            if (uid, gid) != (-1, -1):
                pause.point("chown", self.fd, name)
                syscalls.fchown_handle(fd, uid, gid)
            if mode is not None and not stat.S_ISLNK(expect.st_mode):
                pause.point("chmod", self.fd, name)
                syscalls.fchmod_handle(fd, mode)
        finally:
            os.close(fd)

    def set_owner_mode(self, uid: int, gid: int, mode: int | None) -> None:
        """The directory's own owner (-1 keeps) and then mode (None keeps)."""
        if (uid, gid) != (-1, -1):
            os.fchown(self.fd, uid, gid)
        if mode is not None:
            os.fchmod(self.fd, mode)

    def fsync(self) -> None:
        os.fsync(self.fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _one(name: str) -> None:
    """A single component, never one that leaves the directory."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a name within a directory: {name!r}")
