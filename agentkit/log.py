"""structlog, configured once: readable lines on a TTY, JSON lines otherwise."""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any, TextIO

import structlog

_configured = False


class _TeeJson:
    """Writes each event as a JSON line to a file, then lets the console renderer go on."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.render = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, name: str, event: Any) -> Any:
        self.handle.write(str(self.render(logger, name, dict(event))) + "\n")
        self.handle.flush()
        return event


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(text: str) -> str:
    """A file name someone else chose (a hook action lists what the application user may
    write) printed as it is could forge log lines or move a terminal's cursor, and its
    undecodable bytes (surrogate escapes) could not be written to a UTF-8 stream at all."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()) & 0xff:02x}" if
                            ord(m.group()) > 0xffff or ord(m.group()) < 0xd800 else
                            f"\\x{ord(m.group()) - 0xdc00:02x}", text)


def _printable(logger: Any, name: str, event: Any) -> Any:
    """Every text of the event with control characters and undecodable bytes escaped."""
    for key, value in event.items():
        if isinstance(value, str) and _UNPRINTABLE.search(value):
            event[key] = _escape(value)
    return event


def configure(stream: TextIO | None = None, *, json_lines: bool | None = None,
              level: int = logging.INFO, json_file: IO[str] | None = None) -> None:
    """Set up structlog for the process; later calls are ignored so tests and CLI agree.

    `json_file` (the hooks' log) gets every event as a JSON line as well."""
    global _configured
    if _configured:
        return
    out = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not out.isatty()
    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(colors=False))
    tee: list[Any] = [_TeeJson(json_file)] if json_file is not None else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _printable,
            *tee,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get(name: str) -> Any:
    return structlog.get_logger(name)
