"""Reader and its converters: every problem kept with its line and key chain."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.yamlconf import reader
from agentkit.yamlconf.reader import Conv, Problem, Reader
from agentkit.yamlconf.source import MappingNode, Node, load_text
from agentkit.yamlconf.view import MapView


def _top(text: str) -> MappingNode:
    root = load_text("agentkit.yml", text).root
    assert isinstance(root, MappingNode)
    return root


def _value(text: str) -> Node:
    node = MapView(_top(f"v: {text}\n")).get("v")
    assert node is not None
    return node


def test_problem_text_names_file_and_line() -> None:
    assert Problem(7, 3, "shared > on_conflict: bad").text("a.yml") == \
        "a.yml:7: shared > on_conflict: bad"


def test_reader_map_unknown_keys_are_each_a_problem() -> None:
    r = Reader("agentkit.yml", ("shared",))
    view = r.map(_top("a: 1\nzz: 2\nb: 3\nyy: 4\n"), (), ("a", "b"))
    assert view is not None
    assert r.problems() == (
        Problem(2, 1, "shared > zz: unknown key; expected one of a, b"),
        Problem(4, 1, "shared > yy: unknown key; expected one of a, b"))


def test_reader_map_of_a_scalar_is_a_problem() -> None:
    r = Reader("f")
    assert r.map(MapView(_top("\n\nk: text\n")).get("k"), ("k",), ("a",)) is None
    assert r.problems() == (Problem(3, 4, "k: expected a mapping of keys"),)


@pytest.mark.parametrize("text", ["k:\n", "k: ~\n", "k: null\n"])
def test_reader_map_of_nothing_is_none_without_problem(text: str) -> None:
    r = Reader("f")
    assert r.map(MapView(_top(text)).get("k"), ("k",), ("a",)) is None
    assert r.problems() == ()


def test_reader_get_converts_or_records_the_refused_value() -> None:
    r = Reader("f", ("verify",))
    view = MapView(_top("a: /x/../y\nb: relative\nc: 2\n"))
    assert r.get(view, "a", (), reader.abs_path, "an absolute path") == "/y"
    assert r.get(view, "b", (), reader.abs_path, "an absolute path", "dflt") == "dflt"
    assert r.get(view, "missing", (), reader.integer, "an integer", 5) == 5
    assert r.get(view, "c", (), reader.integer, "an integer") == 2
    assert r.problems() == (Problem(2, 4, "verify > b: expected an absolute path, got "
                                          "'relative'"),)


def test_reader_required_missing_key_names_what_it_is() -> None:
    r = Reader("f")
    top = _top("\nsection:\n  other: 1\n")
    node = MapView(top).get("section")
    view = r.map(node, ("section",), ("other", "path"))
    assert r.required(view, node, "path", ("section",), reader.scalar, "text",
                      " (the shared directory)") is None
    assert r.problems() == (Problem(3, 3, "section: `path` (the shared directory) is "
                                          "required"),)


def test_reader_problems_are_in_file_order() -> None:
    r = Reader("f")
    view = MapView(_top("a: x\nb: y\n"))
    r.get(view, "b", (), reader.integer, "an integer")
    r.get(view, "a", (), reader.integer, "an integer")
    assert [p.line for p in r.problems()] == [1, 2]


@pytest.mark.parametrize("conv, text, value", [
    (reader.scalar, "abc", "abc"), (reader.scalar, "12", "12"),
    (reader.rel_path, "a/./b/", "a/b"), (reader.mode, "0755", 0o755),
    (reader.mode, "'644'", 0o644), (reader.mode, "'0600'", 0o600),
    (reader.number, "1.5", 1.5), (reader.number, "0", 0.0), (reader.integer, "-3", -3),
    (reader.boolean, "true", True), (reader.regex, "'^a+$'", "^a+$"),
    (reader.choice("seed", "fail"), "fail", "fail"),
    (reader.list_of(reader.integer), "[1, 2]", (1, 2)),
    (reader.list_of(reader.integer), "7", (7,))])
def test_converters_accept(conv: Conv[Any], text: str, value: object) -> None:
    assert conv(_value(text)) == value


@pytest.mark.parametrize("conv, text", [
    (reader.scalar, "true"), (reader.scalar, "[1]"), (reader.abs_path, "rel"),
    (reader.rel_path, "/abs"), (reader.rel_path, "a/../b"), (reader.rel_path, "/"),
    (reader.rel_path, "''"),
    (reader.mode, "'0999'"), (reader.mode, "'75'"), (reader.mode, "755.0"),
    (reader.number, "-1"), (reader.number, "true"), (reader.number, "'1'"),
    (reader.integer, "1.0"), (reader.integer, "false"), (reader.boolean, "'yes'"),
    (reader.regex, "'('"), (reader.choice("seed"), "move"),
    (reader.list_of(reader.integer), "[1, x]")])
def test_converters_refuse(conv: Conv[Any], text: str) -> None:
    r = Reader("f")
    assert r.get(MapView(_top(f"v: {text}\n")), "v", (), conv, "it") is None
    assert len(r.problems()) == 1


@given(st.integers(0, 0o7777))
def test_mode_quoted_octal_text_is_its_value(mode: int) -> None:
    assert reader.mode(_value(f"'{mode:04o}'")) == mode
    assert reader.mode(_value(f"0{mode:o}" if mode else "00")) == mode
