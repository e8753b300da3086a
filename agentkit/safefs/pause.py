"""The one point every file system operation of safefs passes before its system call.

In production it is a no-op. The race tests (tests/safefs/race.py) install a callback that
lets an attacker, a real unprivileged user, swap the path in use for a link just then: the
window between check and use that a path-based implementation would have.
"""

from __future__ import annotations

from typing import Callable

Callback = Callable[[str, int, str], None]  # operation, directory fd, name in it

_callback: Callback | None = None


def point(operation: str, dir_fd: int, name: str) -> None:
    if _callback is not None:
        _callback(operation, dir_fd, name)


def install(callback: Callback | None) -> Callback | None:
    """Set the callback (None removes it); returns the one it replaces."""
    global _callback
    before, _callback = _callback, callback
    return before
