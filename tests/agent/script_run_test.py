"""ScriptRun: one hook script's run as the box sends it back, checked on the way in."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.agent.script_run import SCRIPT_FAILED, SUCCEEDED, ScriptRun

RUN = ScriptRun("scripts/a.sh", "deploy", 3, 1.23456, SCRIPT_FAILED,
                "Script at specified location: scripts/a.sh failed with exit code 3",
                (("stdout", "hello"), ("stderr", "oops")), 2)


def test_script_run_to_json_is_the_wire_form() -> None:
    assert RUN.to_json() == {
        "location": "scripts/a.sh", "runas": "deploy", "exit_code": 3, "duration_s": 1.235,
        "error_code": "SCRIPT_FAILED",
        "message": "Script at specified location: scripts/a.sh failed with exit code 3",
        "output_lines_dropped": 2,
        "output": [{"stream": "stdout", "line": "hello"}, {"stream": "stderr", "line": "oops"}]}


def test_script_run_from_json_minimal_fills_defaults() -> None:
    raw = {"location": "a", "error_code": SUCCEEDED, "message": "", "output": []}
    assert ScriptRun.from_json(raw) == ScriptRun("a", None, None, 0.0, SUCCEEDED, "", (), 0)


_text = st.text(max_size=8)
_lines = st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), _text), max_size=4)


@given(_text, st.none() | _text, st.none() | st.integers(-1000, 1000),
       st.floats(0, 1e6, allow_nan=False), _text, _text, _lines, st.integers(0, 10**6))
def test_script_run_from_json_round_trips(location: str, runas: str | None,
                                          code: int | None, duration: float, error: str,
                                          message: str, output: list[tuple[str, str]],
                                          dropped: int) -> None:
    run = ScriptRun(location, runas, code, round(duration, 3), error, message, tuple(output),
                    dropped)
    assert ScriptRun.from_json(run.to_json()) == run


_not_text = st.none() | st.integers() | st.booleans() | st.lists(st.integers(), max_size=2) \
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
_GOOD: dict[str, Any] = {"location": "a", "runas": None, "exit_code": 0, "error_code": "x",
                         "message": "m", "output": [{"stream": "stdout", "line": "l"}]}


@given(st.sampled_from(["location", "error_code", "message"]), _not_text)
def test_script_run_from_json_refuses_non_text_fields(key: str, bad: object) -> None:
    with pytest.raises(ValueError) as exc:
        ScriptRun.from_json({**_GOOD, key: bad})
    assert str(exc.value) == f"not text: {bad!r}"


@given(_not_text.filter(lambda v: v is not None))
def test_script_run_from_json_refuses_non_text_runas(bad: object) -> None:
    with pytest.raises(ValueError) as exc:
        ScriptRun.from_json({**_GOOD, "runas": bad})
    assert str(exc.value) == f"not text: {bad!r}"


@given(st.booleans() | st.text(max_size=3) | st.floats(allow_nan=False)
       | st.lists(st.integers(), max_size=2))
def test_script_run_from_json_refuses_non_integer_exit_code(bad: object) -> None:
    with pytest.raises(ValueError) as exc:
        ScriptRun.from_json({**_GOOD, "exit_code": bad})
    assert str(exc.value) == f"not an exit code: {bad!r}"


@given(st.none() | st.text(max_size=3) | st.integers()
       | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
def test_script_run_from_json_refuses_output_not_a_list(bad: object) -> None:
    with pytest.raises(ValueError) as exc:
        ScriptRun.from_json({**_GOOD, "output": bad})
    assert str(exc.value) == "no output list"


@given(st.sampled_from(["stream", "line"]), _not_text)
def test_script_run_from_json_refuses_non_text_output_line(key: str, bad: object) -> None:
    line = {"stream": "stdout", "line": "l", key: bad}
    with pytest.raises(ValueError) as exc:
        ScriptRun.from_json({**_GOOD, "output": [line]})
    assert str(exc.value) == f"not text: {bad!r}"
