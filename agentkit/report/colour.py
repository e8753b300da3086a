"""Colour for text reports on a terminal: ANSI SGR codes, none when the output is not a TTY,
TERM is dumb, or NO_COLOR is set to anything (https://no-color.org: "when present and not an
empty string")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from agentkit import environ

_SGR = {"error": "1;31", "warning": "33", "ok": "32", "skipped": "2", "bold": "1"}


def wanted(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    try:
        tty = stream.isatty()
    except ValueError:  # a closed stream
        return False
    seen = environ.caller() if env is None else env
    return tty and not seen.get("NO_COLOR") and seen.get("TERM") != "dumb"


class Paint:
    """paint(text, style): text in that style when colour is on, else text as it is."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, style: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"


PLAIN = Paint(False)

STATUS_STYLE = {"succeeded": "ok", "failed": "error", "failed (ignored)": "warning",
                "skipped": "skipped", "not run here": "warning", "undetermined": "warning"}
