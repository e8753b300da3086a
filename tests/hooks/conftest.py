from __future__ import annotations

import contextlib
import io
import os
import pwd
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import structlog

from agentkit.hooks import config

from ..conftest import real_users

PLAIN = "agentkit-perm"


@pytest.fixture
def captured() -> Iterator[list[dict[str, Any]]]:
    """Everything the real structlog logger of `log` emits."""
    with structlog.testing.capture_logs() as entries:
        yield entries


@pytest.fixture
def log(captured: list[dict[str, Any]]) -> Any:
    return structlog.get_logger("agentkit.test")


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[[str], config.Config]:
    def make(text: str) -> config.Config:
        path = tmp_path / "agentkit.yml"
        path.write_text(textwrap.dedent(text))
        return config.load(str(path))
    return make


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    from agentkit import log as logmod
    logmod._configured = False


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here (needs root/CAP_SYS_ADMIN): {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount {args[1]} here (needs root/CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")


@contextlib.contextmanager
def overlay(base: Path, lower: Path, upper_size: str = "64m") -> Iterator[Path]:
    """A real overlayfs over `lower` (filled by the caller), mounted at base/merged: what a
    hook sees in verify's box or a container, where Install's files are in the lower layer.
    The writable layer is a tmpfs of `upper_size`."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mounting overlayfs and tmpfs (verify's box covers it for "
                    "every user: tests/hooks/link_shared_verify_test.py)")
    layers, merged = base / "layers", base / "merged"
    layers.mkdir()
    merged.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={upper_size}", "tmpfs", str(layers))
    try:
        (layers / "upper").mkdir()
        (layers / "work").mkdir()
        _mount("-t", "overlay", "-o", f"lowerdir={lower},upperdir={layers}/upper,"
               f"workdir={layers}/work", "overlay", str(merged))
        try:
            yield merged
        finally:
            subprocess.run(["umount", "-l", str(merged)], check=False)
    finally:
        subprocess.run(["umount", "-l", str(layers)], check=False)


def killer(calls: tuple[str, ...], action: str) -> str:
    """Python source that runs `action` (with `cfg`, `log` and `sys.argv[1]` = config path)
    and SIGKILLs itself at its N-th (sys.argv[2]) call of one of the os functions `calls` or
    pause point of safefs (each file system call it makes): a crash at an exact point."""
    return f"""
import os, signal, sys
import structlog
from agentkit.hooks import config, health, link_shared, permissions
budget = [int(sys.argv[2])]
def counted(fn):
    def wrapper(*a, **kw):
        budget[0] -= 1
        if budget[0] < 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*a, **kw)
    return wrapper
for name in {calls!r}:
    setattr(os, name, counted(getattr(os, name)))
from agentkit.safefs import pause
pause.install(counted(lambda *_: None))
cfg, log = config.load(sys.argv[1]), structlog.get_logger()
try:
    {action}
finally:
    sys.stderr.write(f"calls={{int(sys.argv[2]) - budget[0]}}\\n")  # how many points there were
"""


@pytest.fixture
def plain_user() -> Iterator[tuple[int, int, str]]:
    """Who the EACCES test runs as: this user when it is not root; as root, the real user
    agentkit-perm (made for the test module and removed after it)."""
    if os.geteuid() != 0:
        yield os.geteuid(), os.getegid(), pwd.getpwuid(os.geteuid()).pw_name
        return
    for (name,) in real_users((PLAIN,), ("/usr/sbin/nologin",), system=True):
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid, name


def as_user(who: tuple[int, int, str], argv: list[str], scratch: Path) -> tuple[int, str, str]:
    """`agentkit ARGV` in a child process that is `who` (a fork that drops root, when root,
    so the child needs no interpreter that user may run): exit status, stdout, stderr."""
    from agentkit.cli import main

    # imported before privileges are dropped: this interpreter's library may be root's only
    from agentkit.commands import hook  # noqa: F401
    from agentkit.hooks import (  # noqa: F401
        health,
        link_shared,
        permissions,
        preflight,
        refusal,
        release,
    )

    out, err = scratch / "stdout", scratch / "stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 99
            try:
                os.dup2(o.fileno(), 1)
                os.dup2(e.fileno(), 2)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False),
                                              write_through=True)
                sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False),
                                              write_through=True)
                if os.geteuid() != who[0]:
                    os.setgroups([])
                    os.setgid(who[1])
                    os.setuid(who[0])
                code = main(argv)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.read_text(), err.read_text()
