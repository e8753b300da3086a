"""Stop: where a verify deployment stops, carried from event to event."""

from __future__ import annotations

from agentkit.verify.result import Failure
from agentkit.verify.stop import Stop

FAIL = Failure("AfterInstall", "ScriptFailed", "Script at specified location: a.sh failed")


def test_stop_default_is_clean() -> None:
    assert Stop() == Stop(failure=None, halted=None, undetermined=None)
    assert Stop().verdict_undetermined is None


def test_stop_failed_keeps_the_other_fields() -> None:
    stop = Stop(halted="h", undetermined="u").failed(FAIL)
    assert stop == Stop(failure=FAIL, halted="h", undetermined="u")


def test_stop_forgiven_drops_only_the_failure() -> None:
    assert Stop(FAIL, None, "u").forgiven() == Stop(None, None, "u")


def test_stop_halt_is_undetermined_for_the_same_reason() -> None:
    assert Stop().halt("no systemd") == Stop(halted="no systemd", undetermined="no systemd")


def test_stop_halt_with_another_reason_keeps_it() -> None:
    assert Stop().halt("why", "other") == Stop(halted="why", undetermined="other")


def test_stop_incomplete_does_not_halt() -> None:
    assert Stop().incomplete("partial") == Stop(halted=None, undetermined="partial")


def test_stop_verdict_undetermined_without_failure_is_the_reason() -> None:
    assert Stop().incomplete("partial").verdict_undetermined == "partial"


def test_stop_verdict_undetermined_with_failure_is_none() -> None:
    assert Stop().incomplete("partial").failed(FAIL).verdict_undetermined is None
