"""Typed reading of a YAML document's nodes, every problem kept with its line and key chain,
so a whole file's problems are reported at once (cfgv's lesson): `agentkit.yml:7: shared >
on_conflict: expected one of backup, seed, fail, got 'move'`.

A converter (Conv) turns a node into a value or raises TypeError/ValueError; it also says
what it accepts as a JSON Schema fragment, so the schema of a file is written from the same
data that checks it (schema.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from agentkit.errors import BadConfig
from agentkit.yamlconf.source import MappingNode, Node, ScalarNode, SequenceNode, read_source
from agentkit.yamlconf.view import MapView, Path, chain, pos, value11


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where, and the key chain with what is wrong."""

    line: int
    column: int | None
    message: str  # `shared > on_conflict: expected one of ...`

    def text(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}"


T = TypeVar("T")


@dataclass(frozen=True)
class Conv(Generic[T]):
    """A converter: `fn` reads a node (raising TypeError or ValueError when it cannot),
    `json` is the JSON Schema of what it accepts, `show` how a refused value is quoted."""

    fn: Callable[[Node], T]
    json: dict[str, Any] = field(default_factory=dict)
    show: Callable[[Node], Any] = value11

    def __call__(self, node: Node) -> T:
        return self.fn(node)


def null(node: Node | None) -> bool:
    """Absent, or written as nothing (`key:`, `key: ~`)."""
    return node is None or (isinstance(node, ScalarNode) and value11(node) is None)


class Reader:
    """Typed access to the YAML nodes that records every problem with its line. `prefix` is
    put before every key chain (a section read on its own: ("deploy",))."""

    def __init__(self, path: str, prefix: Path = ()) -> None:
        self.path = path
        self.prefix = prefix
        self.errors: list[Problem] = []

    def error(self, node: Node | None, where: Path, message: str) -> None:
        line, column = pos(node)
        where_text = chain((*self.prefix, *where))
        self.errors.append(Problem(line or 1, column if line else None,
                                   f"{where_text}: {message}" if where_text else message))

    def map(self, node: Node | None, where: Path, known: tuple[str, ...]) -> MapView | None:
        if null(node):
            return None
        if not isinstance(node, MappingNode):
            self.error(node, where, "expected a mapping of keys")
            return None
        view = MapView(node)
        for entry in view.entries():
            if entry.key not in known:
                self.error(entry.key_node, (*where, str(entry.key)),
                           f"unknown key; expected one of {', '.join(known)}")
        return view

    def get(self, view: MapView | None, key: str, where: Path, convert: Callable[[Any], Any],
            expected: str, default: Any = None) -> Any:
        node = view.get(key) if view else None
        if null(node):
            return default
        assert node is not None
        try:
            return convert(node)
        except (TypeError, ValueError, re.error):
            shown = convert.show(node) if isinstance(convert, Conv) else value11(node)
            self.error(node, (*where, key), f"expected {expected}, got {shown!r}")
            return default

    def required(self, view: MapView | None, node: Node | None, key: str, where: Path,
                 convert: Callable[[Any], Any], expected: str, what: str = "") -> Any:
        """`get` for a key that must be there: its absence is an error naming `what` it is."""
        value = self.get(view, key, where, convert, expected)
        if value is None and (view is None or key not in view):
            self.error(node, where, f"`{key}`{what} is required")
        return value

    def problems(self) -> tuple[Problem, ...]:
        """Every problem, in the file's order."""
        return tuple(sorted(self.errors, key=lambda p: p.line))


def refuse(path: str, problems: tuple[Problem, ...]) -> None:
    """Raise BadConfig with every problem of the file (one line each), when there is any."""
    if problems:
        texts = [p.text(path) for p in problems]
        raise BadConfig(texts[0] if len(texts) == 1 else
                        f"{len(texts)} problems in {path}:\n" + "\n".join(texts))


def section_of(path: str, name: str) -> tuple[Node | None, Node | None]:
    """The document at `path` and its top-level `name` node (None when absent); a YAML
    syntax error is BadConfig naming the line."""
    src = read_source(path)
    if src.syntax_error is not None:
        e = src.syntax_error
        raise BadConfig(f"{path}:{e.line}: YAML syntax: {e.problem}")
    top = src.root
    return top, (MapView(top).get(name) if isinstance(top, MappingNode) else None)


def _scalar(node: Node) -> str:
    value = value11(node)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError
    return str(value)


def _abs_path(node: Node) -> str:
    text = _scalar(node)
    if not text.startswith("/"):
        raise ValueError
    return os.path.normpath(text)


def _rel_path(node: Node) -> str:
    text = _scalar(node).strip("/")
    if not text or ".." in text.split("/") or os.path.isabs(_scalar(node)):
        raise ValueError
    return os.path.normpath(text)


def list_of(item: Conv[T]) -> Conv[tuple[T, ...]]:
    """A list of `item`, or one `item` alone (YAML users write both)."""
    def convert(node: Node) -> tuple[T, ...]:
        if isinstance(node, SequenceNode):
            return tuple(item(n) for n in node.value)
        return (item(node),)
    return Conv(convert, {"anyOf": [item.json, {"type": "array", "items": item.json}]})


def choice(*options: str) -> Conv[str]:
    def convert(node: Node) -> str:
        text = _scalar(node)
        if text not in options:
            raise ValueError
        return text
    return Conv(convert, {"enum": list(options)})


def _mode(node: Node) -> int:
    if isinstance(node, ScalarNode) and not node.style and re.fullmatch(r"0[0-7]+", node.value):
        return int(node.value, 8)  # an unquoted 0755 means what it says here
    text = _scalar(node)
    if not re.fullmatch(r"[0-7]{3,4}", text):
        raise ValueError
    return int(text, 8)


def _number(node: Node) -> float:
    value = value11(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError
    return float(value)


def _integer(node: Node) -> int:
    value = value11(node)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def _boolean(node: Node) -> bool:
    value = value11(node)
    if not isinstance(value, bool):
        raise ValueError
    return value


def _regex(node: Node) -> str:
    text = _scalar(node)
    re.compile(text)
    return text


scalar = Conv(_scalar, {"type": ["string", "number"]})
abs_path = Conv(_abs_path, {"type": "string", "pattern": "^/"})
rel_path = Conv(_rel_path, {"type": "string", "minLength": 1, "not": {"pattern": "^/"}})
mode = Conv(_mode, {"type": ["string", "integer"], "pattern": "^0?[0-7]{3,4}$"})
number = Conv(_number, {"type": "number", "minimum": 0})
integer = Conv(_integer, {"type": "integer"})
boolean = Conv(_boolean, {"type": "boolean"})
regex = Conv(_regex, {"type": "string", "format": "regex"})
