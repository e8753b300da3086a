"""structlog is configured once: JSON lines when not on a TTY, readable lines on a TTY."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from agentkit import log


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log, "_configured", False)
    yield
    structlog.reset_defaults()


def test_log_json_lines_when_not_a_tty() -> None:
    out = io.StringIO()
    log.configure(out)
    log.get("t").info("linked", path="/srv/media")
    record = json.loads(out.getvalue())
    assert record["event"] == "linked"
    assert record["path"] == "/srv/media"
    assert record["level"] == "info"


def test_log_console_lines_on_a_tty() -> None:
    out = _Tty()
    log.configure(out)
    log.get("t").warning("slow", seconds=3)
    text = out.getvalue()
    assert "slow" in text and "seconds=3" in text
    assert not text.lstrip().startswith("{")


def test_log_configure_twice_keeps_the_first() -> None:
    first, second = io.StringIO(), io.StringIO()
    log.configure(first)
    log.configure(second)
    log.get("t").info("once")
    assert "once" in first.getvalue() and second.getvalue() == ""


def test_log_escapes_names_someone_else_chose() -> None:
    # a directory named with a newline, a terminal escape and a byte that is not UTF-8 (as
    # os.fsdecode gives it) must neither forge a log line nor stop the log
    from agentkit import log as logmod

    name = "uploads/x\n2026-01-01T00:00:00Z [info     ] all fine\x1b[2K\udcff"
    assert logmod._escape(name) == ("uploads/x\\x0a2026-01-01T00:00:00Z [info     ] all fine"
                                    "\\x1b[2K\\xff")
    assert logmod._escape("tab\tkept") == "tab\tkept"
