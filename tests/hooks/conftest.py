from __future__ import annotations

import contextlib
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
def tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here (needs root/CAP_SYS_ADMIN): {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def killer(calls: tuple[str, ...], action: str) -> str:
    """Python source that runs `action` (with `cfg`, `log` and `sys.argv[1]` = config path)
    and SIGKILLs itself at its N-th (sys.argv[2]) call of one of the os functions `calls`:
    a crash at an exact point."""
    return f"""
import os, signal, sys
import structlog
from agentkit.hooks import config, health, link_shared
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
cfg, log = config.load(sys.argv[1]), structlog.get_logger()
{action}
"""
