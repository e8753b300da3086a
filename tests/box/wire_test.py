"""wire: the handler named in a Spec, and the checked shape of a `ran` answer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.agent import runner
from agentkit.box import wire


def test_load_handler_empty_name_is_none() -> None:
    assert wire.load_handler("") is None


def test_load_handler_names_module_and_function() -> None:
    assert wire.load_handler("agentkit.agent.runner:run_jobs") is runner.run_jobs


def test_load_handler_missing_function_raises() -> None:
    with pytest.raises(AttributeError):
        wire.load_handler("agentkit.agent.runner:no_such_function")


def test_load_handler_missing_module_raises() -> None:
    with pytest.raises(ModuleNotFoundError):
        wire.load_handler("agentkit.no_such_module:f")


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)


@given(st.lists(st.dictionaries(st.text(), _json, max_size=3), max_size=4))
def test_results_list_of_objects_is_returned_as_is(raw: list[dict[str, Any]]) -> None:
    assert wire.results(raw) is raw


@given(_json.filter(lambda v: not isinstance(v, list)
                    or not all(isinstance(r, dict) for r in v)))
def test_results_anything_else_is_refused(raw: object) -> None:
    with pytest.raises(ValueError) as exc:
        wire.results(raw)
    assert str(exc.value) == "results are not a list of objects"
