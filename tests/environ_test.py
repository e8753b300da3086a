"""environ: reading the caller's environment, deriving a child's, never changing it."""

from __future__ import annotations

import os

import pytest

from agentkit import environ


def test_get_set_variable_is_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_T_ENV", "value")
    assert environ.get("AGENTKIT_T_ENV", "default") == "value"


def test_get_unset_variable_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTKIT_T_ENV", raising=False)
    assert environ.get("AGENTKIT_T_ENV") == ""
    assert environ.get("AGENTKIT_T_ENV", "d") == "d"


def test_caller_is_a_read_only_live_view(monkeypatch: pytest.MonkeyPatch) -> None:
    view = environ.caller()
    with pytest.raises(TypeError):
        view["AGENTKIT_T_ENV"] = "x"  # type: ignore[index]
    monkeypatch.setenv("AGENTKIT_T_ENV", "later")
    assert view["AGENTKIT_T_ENV"] == "later"
    assert dict(view) == dict(os.environ)


def test_derived_without_base_copies_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_T_ENV", "a")
    before = dict(os.environ)
    env = environ.derived(EXTRA="b")
    assert env == {**before, "EXTRA": "b"}
    assert dict(os.environ) == before


def test_derived_with_base_ignores_the_caller() -> None:
    base = {"PATH": "/bin", "X": "1"}
    assert environ.derived(base, X="2", Y="3") == {"PATH": "/bin", "X": "2", "Y": "3"}
    assert base == {"PATH": "/bin", "X": "1"}
