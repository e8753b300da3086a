"""Running a piece of a test as a user whom file permissions bind, whoever runs the tests.

A plain user (CI's second run) runs it as it is. Root runs it in a forked child that has given
up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, and nothing else: it is still uid 0 and reads
what root owns with an owner's bit set (Python's own files under a root-only prefix), but a
`chmod 000` file is as unreadable to it as to any user. The result (or the exception's text)
comes back pickled through a pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import pickle
from collections.abc import Sequence
from typing import Callable, TypeVar

T = TypeVar("T")

_CAPABILITY_VERSION_3 = 0x20080522
_DAC = (1 << 1) | (1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_dac() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    header = _Header(_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].effective &= ~_DAC
    data[0].permitted &= ~_DAC
    data[0].inheritable &= ~_DAC
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def bound_by_permissions(func: Callable[[], T]) -> T:
    """func() where a mode of 000 means what it says."""
    if os.geteuid() != 0:
        return func()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            _drop_dac()
            data = pickle.dumps((True, func()))
        except BaseException as exc:  # every failure goes back to the test
            data = pickle.dumps((False, f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise AssertionError(f"the unprivileged step failed: {value}")
    result: T = value
    return result


def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """agentkit's main(argv) bound by permissions: (exit status, stdout, stderr)."""
    from agentkit.cli import main

    def step() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()
    return bound_by_permissions(step)
