"""The box's errors: BoxError's one-line reason."""

from __future__ import annotations

from agentkit.box.errors import BoxError, Unavailable


def test_box_error_reason_defaults_to_the_first_line() -> None:
    exc = BoxError("pid 1 died\nwhat the box wrote:\n  oops")
    assert (str(exc), exc.reason) == ("pid 1 died\nwhat the box wrote:\n  oops", "pid 1 died")


def test_box_error_reason_given_wins() -> None:
    assert BoxError("long\ntext", "short").reason == "short"


def test_box_error_is_a_runtime_error_unavailable_is_not() -> None:
    assert issubclass(BoxError, RuntimeError)
    assert not issubclass(Unavailable, RuntimeError)
