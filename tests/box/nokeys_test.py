"""The seccomp filter of a plain user's box: keyctl, add_key and request_key fail with ENOSYS,
every other call as before."""

from __future__ import annotations

import ctypes
import errno
import os
import platform

import pytest

from agentkit.box import nokeys

NUMBERS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}


@pytest.mark.skipif(platform.machine() not in NUMBERS,
                    reason="the filter's call numbers are known for x86_64 and aarch64")
def test_nokeys_refuses_the_key_calls_only() -> None:
    add_key, request_key, keyctl = NUMBERS[platform.machine()]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            # (a plain user may install a filter only with no_new_privs; the box's pid 1
            # holds CAP_SYS_ADMIN in its namespace instead)
            libc.prctl(38, 1, 0, 0, 0)
            why = nokeys.refuse()
            results = []
            for number, args in ((keyctl, (0, -3, 0)), (add_key, (b"user", b"d", b"x", 1, -3)),
                                 (request_key, (b"user", b"d", None, 0))):
                ctypes.set_errno(0)
                results.append((libc.syscall(number, *args), ctypes.get_errno()))
            said = f"{why} {results} {os.getpid() > 0}"
            os.write(write_fd, said.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    said = os.read(read_fd, 4096).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    refused = (-1, errno.ENOSYS)
    assert said == f"None {[refused, refused, refused]} True"


def test_nokeys_program_is_unknown_for_an_unknown_machine() -> None:
    assert nokeys.program("vax") is None
