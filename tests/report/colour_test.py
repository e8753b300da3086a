"""colour: ANSI colour only on a terminal, never with NO_COLOR or TERM=dumb."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import TextIO

import pytest

from agentkit.report.colour import PLAIN, Paint, wanted


@pytest.fixture
def tty() -> Iterator[TextIO]:
    """A real terminal: the slave side of a pty."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    yield stream
    stream.close()
    os.close(master)


def test_wanted_on_a_terminal(tty: TextIO) -> None:
    assert wanted(tty, {"TERM": "xterm"}) is True


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"TERM": "xterm", "NO_COLOR": "1"},
                                 {"NO_COLOR": "anything"}])
def test_wanted_not_when_the_environment_says_no(tty: TextIO, env: dict[str, str]) -> None:
    assert wanted(tty, env) is False


def test_wanted_empty_no_color_is_not_set(tty: TextIO) -> None:
    assert wanted(tty, {"NO_COLOR": ""}) is True


def test_wanted_not_on_a_file_or_a_closed_stream() -> None:
    assert wanted(io.StringIO(), {}) is False
    closed = io.StringIO()
    closed.close()
    assert wanted(closed, {}) is False


def test_paint_on_wraps_in_sgr_and_resets() -> None:
    paint = Paint(True)
    assert [paint("x", s) for s in ("error", "warning", "ok", "skipped", "bold")] == [
        "\x1b[1;31mx\x1b[0m", "\x1b[33mx\x1b[0m", "\x1b[32mx\x1b[0m", "\x1b[2mx\x1b[0m",
        "\x1b[1mx\x1b[0m"]
    assert paint("", "error") == ""


def test_paint_off_is_the_text_as_it_is() -> None:
    assert PLAIN("failed", "error") == "failed"
