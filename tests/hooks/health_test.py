"""health up/down: the file appears whole or not at all; down waits for the ALB to notice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.hooks import health
from agentkit.hooks.config import Config

from .conftest import killer

MakeConfig = Callable[[str], Config]


def _cfg(make: MakeConfig, tmp: Path, drain: str = "{interval: 0}") -> Config:
    return make(f"version: 1\nhealth:\n  file: {tmp}/www/health.html\n  content: 'UP {'x' * 5000}'"
                f"\n  drain: {drain}\n")


def test_health_up_writes_the_whole_file(tmp_path: Path, make_config: MakeConfig,
                                         log: Any) -> None:
    (tmp_path / "www").mkdir()
    health.up(_cfg(make_config, tmp_path), log)
    assert (tmp_path / "www/health.html").read_text() == "UP " + "x" * 5000
    assert os.stat(tmp_path / "www/health.html").st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path / "www") == ["health.html"]


def test_health_down_removes_and_waits_for_the_drain(tmp_path: Path, make_config: MakeConfig,
                                                     log: Any,
                                                     captured: list[dict[str, Any]]) -> None:
    (tmp_path / "www").mkdir()
    cfg = _cfg(make_config, tmp_path, "{interval: 0.2, unhealthy_threshold: 2, timeout: 0.1}")
    health.up(cfg, log)
    start = time.monotonic()
    health.down(cfg, log)
    assert time.monotonic() - start >= 0.5
    assert not (tmp_path / "www/health.html").exists()
    assert [e["event"] for e in captured][-2:] == ["draining", "drained"]


def test_health_down_without_file_does_not_wait(tmp_path: Path, make_config: MakeConfig,
                                                log: Any) -> None:
    (tmp_path / "www").mkdir()
    cfg = _cfg(make_config, tmp_path, "{interval: 30}")
    start = time.monotonic()
    health.down(cfg, log)
    assert time.monotonic() - start < 1


KILLER = killer(("open", "write", "fchmod", "fsync", "rename", "close"), "health.up(cfg, log)")


@pytest.mark.parametrize("kill_at", range(8))
def test_health_up_sigkill_never_leaves_a_partial_file(tmp_path: Path, make_config: MakeConfig,
                                                       log: Any, kill_at: int) -> None:
    (tmp_path / "www").mkdir()
    cfg = _cfg(make_config, tmp_path)
    proc = subprocess.run([sys.executable, "-c", KILLER, cfg.path, str(kill_at)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    target = tmp_path / "www/health.html"
    assert not target.exists() or target.read_text() == "UP " + "x" * 5000
    health.up(cfg, log)
    assert target.read_text() == "UP " + "x" * 5000
    assert os.listdir(tmp_path / "www") == ["health.html"]  # no temp file left behind
