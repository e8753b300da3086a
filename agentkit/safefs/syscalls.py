"""The Linux calls safefs needs that Python's os module lacks, through libc.

- openat2(2) (5.6+): RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS resolves
  a relative path below a directory descriptor in one call, refusing every link and `..`
  out of it; `None` where the kernel lacks it (callers then go component by component).
- renameat2(2) (3.15+): RENAME_EXCHANGE and RENAME_NOREPLACE between directory descriptors.
- fchownat(2) with AT_EMPTY_PATH: the owner of what an O_PATH descriptor holds (fchown
  refuses O_PATH descriptors, and by name it could be swapped after the check).
- chmod of an O_PATH descriptor: fchmodat2(2) with AT_EMPTY_PATH (6.6+), else through
  /proc/self/fd, as systemd's fchmod_opath does.
"""

from __future__ import annotations

import errno
import os
from typing import Any

_SYS_OPENAT2 = 437  # one number on every architecture (the unified syscall table)
_SYS_FCHMODAT2 = 452
RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 0x02, 0x04, 0x08
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_EMPTY_PATH = 0x1000

_libc: Any = None
_missing: set[str] = set()  # calls this kernel answered ENOSYS to: not asked again


def _lib() -> Any:
    """libc through ctypes, loaded at the first call that needs it: a hook action that
    needs none (health up) does not pay for the import."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


_how: Any = None


def _open_how() -> Any:
    """struct open_how of openat2(2), made once."""
    global _how
    if _how is None:
        import ctypes

        class OpenHow(ctypes.Structure):
            _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                        ("resolve", ctypes.c_uint64)]
        _how = OpenHow
    return _how


def _fail(what: str, path: str) -> OSError:
    import ctypes

    err = ctypes.get_errno()
    return OSError(err, os.strerror(err), path)


def openat2_beneath(dir_fd: int, path: str, flags: int) -> int | None:
    """`path` below `dir_fd` with no link and no `..` out of it; None without openat2."""
    if "openat2" in _missing:
        return None
    import ctypes

    how = _open_how()(flags | os.O_CLOEXEC, 0,
                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    fd = _lib().syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd),
                        os.fsencode(path), ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd >= 0:
        return int(fd)
    exc = _fail("openat2", path)
    if exc.errno in (errno.ENOSYS, errno.EPERM):  # EPERM: a container's seccomp profile
        _missing.add("openat2")
        return None
    raise exc


def renameat2(src_fd: int, src: str, dst_fd: int, dst: str, flags: int) -> bool:
    """True when done; False where the kernel or file system lacks the flag."""
    func = getattr(_lib(), "renameat2", None)
    if func is None:
        return False
    if func(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), flags) == 0:
        return True
    exc = _fail("renameat2", dst)
    if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise exc


def fchown_handle(fd: int, uid: int, gid: int) -> None:
    """chown what the (O_PATH) descriptor holds, never following a link it may be."""
    if _lib().fchownat(fd, b"", uid, gid, AT_EMPTY_PATH) != 0:
        raise _fail("fchownat", f"/proc/self/fd/{fd}")


def fchmod_handle(fd: int, mode: int) -> None:
    """chmod what the O_PATH descriptor of a non-link holds."""
    import ctypes

    if "fchmodat2" not in _missing:
        res = _lib().syscall(ctypes.c_long(_SYS_FCHMODAT2), ctypes.c_int(-100 if fd < 0 else fd),
                             b"", ctypes.c_uint(mode), ctypes.c_uint(AT_EMPTY_PATH))
        if res == 0:
            return
        if ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
            raise _fail("fchmodat2", f"/proc/self/fd/{fd}")
        _missing.add("fchmodat2")
    os.chmod(f"/proc/self/fd/{fd}", mode)
