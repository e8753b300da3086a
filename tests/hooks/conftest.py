from __future__ import annotations

import contextlib
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import structlog

from agentkit.hooks import config


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
