"""One line of progress on a terminal while verify works: what it is doing and for how long
(a hook: against its timeout). Only on a TTY's stderr; the line is redrawn in place and
erased before the report is written, so neither the report nor a log ever holds it."""

from __future__ import annotations

import threading
import time
from typing import TextIO

from agentkit import environ
from agentkit.report.colour import wanted

REDRAW_S = 0.25


class Progress:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self._label = ""
        self._limit: float | None = None
        self._start = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def to_terminal(cls, stream: TextIO, enabled: bool = True) -> Progress:
        """A Progress that shows on `stream` when it is a terminal (else does nothing)."""
        term = {"TERM": environ.get("TERM")}  # NO_COLOR is about colour, not this
        return cls(stream if enabled and wanted(stream, term) else None)

    def phase(self, label: str, limit: float | None = None) -> None:
        """Start showing `label`, with the seconds since now (and `limit`, when given)."""
        if self.stream is None:
            return
        with self._lock:
            self._label, self._limit, self._start = label, limit, time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agentkit-progress",
                                            daemon=True)
            self._thread.start()
        self._draw()

    def close(self) -> None:
        """Stop and erase the line (before the report, or when verify stops early)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.stream is not None and self._label:
            self._write("\r\x1b[K")
            self._label = ""

    def _run(self) -> None:
        while not self._stop.wait(REDRAW_S):
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            elapsed = time.monotonic() - self._start
            limit = f" / {self._limit:g} s" if self._limit else ""
            self._write(f"\r\x1b[K{self._label}  {elapsed:.0f} s{limit}")

    def _write(self, text: str) -> None:
        assert self.stream is not None
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: progress is not worth a crash
            self.stream = None
