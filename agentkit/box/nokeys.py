"""No kernel keyrings for the hooks of a plain user's box (a seccomp filter).

The box joins a new session keyring (stage._detach) and has a user keyring of its own (per
user namespace since Linux 5.3), but keys are also reachable by number: the kernel checks a
key's permissions against the uid it sees, and run by a plain user, root of the box is that
user to the kernel. The caller's user keyring grants its owner everything (process_keys.c,
user_keyring_perm), so a hook that finds its number (describe every number: they are
31-bit) could link it into its own keyring, then search it and read each key the caller
keeps there. Where the box's ids are shifted (verify run by root) no such uid is anybody's.

So in a plain user's box keyctl, add_key and request_key fail with ENOSYS, as on a kernel
built without keys (CONFIG_KEYS=n), which software that uses keyrings allows for (pam_keyinit,
keyutils). Docker's default seccomp profile refuses the same three calls.

The filter is classic BPF over seccomp_data (seccomp(2)): arch at offset 4, nr at 0. pid 1 may
install it without no_new_privs: it holds CAP_SYS_ADMIN in the box's user namespace.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

# (AUDIT_ARCH_*, numbers of add_key, request_key, keyctl) of each ABI a process of this
# machine may call the kernel with (linux/audit.h; the arch's syscall tables)
_ABIS = {
    "x86_64": ((0xC000003E, (248, 249, 250)),
               (0xC000003E, (0x40000000 | 248, 0x40000000 | 249, 0x40000000 | 250)),  # x32
               (0x40000003, (286, 287, 288))),  # i386
    "aarch64": ((0xC00000B7, (217, 218, 219)), (0x40000028, (309, 310, 311))),  # (arm32)
}
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
# the process's own symbols (libc's among them): no find_library, which runs ldconfig
_libc = ctypes.CDLL(None, use_errno=True)


class _FProg(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The filter's instructions (code, jt, jf, k); None: this machine's ABIs are unknown."""
    abis = _ABIS.get(machine)
    if abis is None:
        return None
    blocks: list[list[tuple[int, int, int, int]]] = []
    for arch, numbers in abis:
        blocks.append([(_LD_W_ABS, 0, 0, 4), (_JEQ_K, 0, 1 + len(numbers), arch),
                       (_LD_W_ABS, 0, 0, 0)] + [(_JEQ_K, -1, 0, n) for n in numbers])
    flat = [op for block in blocks for op in block] + [(_RET_K, 0, 0, _ALLOW),
                                                      (_RET_K, 0, 0, _ERRNO | errno.ENOSYS)]
    deny = len(flat) - 1
    # a number that matches jumps to the last instruction (ENOSYS)
    return [(code, deny - i - 1 if jt == -1 else jt, jf, k)
            for i, (code, jt, jf, k) in enumerate(flat)]


def refuse() -> str | None:
    """Install the filter on this process and what it starts; returns why not (None: done)."""
    ops = program(platform.machine())
    if ops is None:
        return f"no seccomp filter is known for {platform.machine()}"
    raw = b"".join(struct.pack("=HBBI", *op) for op in ops)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = _FProg(len(ops), ctypes.cast(buf, ctypes.c_void_p).value)
    if _libc.prctl(ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER),
                  ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        return os.strerror(ctypes.get_errno())
    return None
