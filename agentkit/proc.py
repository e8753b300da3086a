"""The one way agentkit starts other programs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
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


def must(argv: Sequence[str]) -> None:
    """Run a set-up command that has to work; its stderr is the error."""
    done = run(argv)
    if done.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")


def spawn_group(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a program in its own process group, stdin closed, stdout/stderr as pipes (how
    the CodeDeploy agent starts a hook script)."""
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env), preexec_fn=os.setpgrp,
                            close_fds=True)


def env_with(**extra: str) -> dict[str, str]:
    """This process's environment plus `extra`: the one way agentkit changes an environment."""
    env = dict(os.environ)
    env.update(extra)
    return env
