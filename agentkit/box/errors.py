"""The box's two ways of not working: the machine cannot make one (Unavailable), or one broke
while in use (BoxError). Neither is a failure of what ran in it."""

from __future__ import annotations


class Unavailable(Exception):
    """This machine cannot make a box (a kernel setting, a container); str() says why and
    what to enable, in one line."""


class BoxError(RuntimeError):
    """The box broke; `reason` says how in a line (str() adds what the box wrote)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message.split("\n", 1)[0]
