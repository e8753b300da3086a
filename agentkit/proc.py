"""The one way agentkit starts other programs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO


def which(program: str) -> str | None:
    return shutil.which(program)


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
        cwd: str | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run to completion, capturing text output; never raises for a non-zero exit."""
    return subprocess.run(list(argv), env=None if env is None else dict(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def stdout_stream(argv: Sequence[str]) -> Iterator[IO[bytes]]:
    """Yield a program's stdout as an unbuffered byte stream; reap it afterwards."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, bufsize=0)
    assert proc.stdout is not None
    try:
        yield proc.stdout
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


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


def must(argv: Sequence[str]) -> None:
    """Run a set-up command that has to work; its stderr is the error."""
    done = run(argv)
    if done.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")


def spawn_group(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a program in its own process group, stdin closed, stdout/stderr as pipes (how
    the CodeDeploy agent starts a hook script), in a session of its own: the agent is a
    daemon, so its hooks have no controlling terminal, and verify's must not get the
    caller's (a hook could read keystrokes from /dev/tty or push some with TIOCSTI)."""
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env), start_new_session=True,
                            close_fds=True)


def env_with(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """`base` (default: this process's environment) plus `extra`: the one way agentkit
    changes an environment."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    return env
