"""The one way agentkit starts other programs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO

Process = subprocess.Popen[bytes]  # a program started with spawn_group or spawn_passing


def which(program: str) -> str | None:
    return shutil.which(program)


class TimedOut(OSError):
    """A program run with a timeout did not end in time (it was killed)."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(errno.ETIMEDOUT, f"`{' '.join(argv)}` did not finish in {timeout:g} s")
        self.timeout = timeout


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
        cwd: str | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run to completion, capturing text output; never raises for a non-zero exit. Past
    `timeout` seconds the program is killed and TimedOut (an OSError) raised."""
    try:
        return subprocess.run(list(argv), env=None if env is None else dict(env), cwd=cwd,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TimedOut(argv, timeout or 0) from None


@contextlib.contextmanager
def stdin_sink(argv: Sequence[str], stderr: IO[bytes]
               ) -> Iterator[Callable[[list[memoryview]], None]]:
    """Start a program that reads what we write (stdout discarded, stderr to a file). Yields
    the write function (a list of buffers, written in order with writev: no copy here); on
    leaving, its stdin is closed and the program reaped. Raises ChildProcessError(returncode)
    when it exits non-zero."""
    child = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=stderr, bufsize=0)
    assert child.stdin is not None
    fd = child.stdin.fileno()
    with contextlib.suppress(OSError):  # a bigger pipe: we may run ahead of it by 1 MB
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)

    def write(parts: list[memoryview]) -> None:
        first = 0  # parts before this one are written
        while first < len(parts):
            done = os.writev(fd, parts[first:] if first else parts)
            while first < len(parts) and done >= len(parts[first]):
                done -= len(parts[first])
                first += 1
            if done:
                parts[first] = parts[first][done:]

    try:
        yield write
    finally:
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
        code = child.wait()
    if code != 0:
        raise ChildProcessError(code)


def spawn_group(argv: Sequence[str], env: Mapping[str, str]) -> Process:
    """Start a program in its own process group, stdin closed, stdout/stderr as pipes (how
    the CodeDeploy agent starts a hook script), in a session of its own: the agent is a
    daemon, so its hooks have no controlling terminal, and verify's must not get the
    caller's (a hook could read keystrokes from /dev/tty or push some with TIOCSTI)."""
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env), start_new_session=True,
                            close_fds=True)


def spawn_passing(argv: Sequence[str], fd: int, output: IO[bytes], env: Mapping[str, str]
                  ) -> Process:
    """Start a helper of agentkit's own that talks over the descriptor `fd` (passed, and no
    other), stdin closed, stdout and stderr into `output`, in a session of its own (no
    controlling terminal: the caller's stays its own)."""
    return subprocess.Popen(list(argv), pass_fds=(fd,), stdin=subprocess.DEVNULL,
                            stdout=output, stderr=output, env=dict(env), close_fds=True,
                            start_new_session=True)


def wait(process: Process, timeout: float) -> int | None:
    """Its exit status, or None when it has not exited within `timeout` seconds."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
