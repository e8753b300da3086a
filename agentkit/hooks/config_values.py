"""Typed reading of agentkit.yml's YAML nodes: each converter raises on a value of the
wrong kind, and `Reader` turns that into a Problem with the line and the key chain, so every
problem of the file is reported at once (config.py reads the sections with these)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from agentkit.appspec.source import MappingNode, Node, ScalarNode, SequenceNode
from agentkit.appspec.view import MapView, Path, chain, pos, value11


@dataclass(frozen=True)
class Problem:
    """One thing wrong in agentkit.yml: where, and the key chain with what is wrong."""

    line: int
    column: int | None
    message: str  # `shared > on_conflict: expected one of ...`

    def text(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}"


class Reader:
    """Typed access to the YAML nodes that records every problem with its line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[Problem] = []

    def error(self, node: Node | None, where: Path, message: str) -> None:
        line, column = pos(node)
        where_text = chain(where)
        self.errors.append(Problem(line or 1, column if line else None,
                                   f"{where_text}: {message}" if where_text else message))

    def map(self, node: Node | None, where: Path, known: tuple[str, ...]) -> MapView | None:
        if node is None or (isinstance(node, ScalarNode) and value11(node) is None):
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
        if node is None or (isinstance(node, ScalarNode) and value11(node) is None):
            return default
        try:
            return convert(node)
        except (TypeError, ValueError, re.error):
            shown = value11(node)
            self.error(node, (*where, key), f"expected {expected}, got {shown!r}")
            return default

    def required(self, view: MapView | None, node: Node | None, key: str, where: Path,
                 convert: Callable[[Any], Any], expected: str, what: str = "") -> Any:
        """`get` for a key that must be there: its absence is an error naming `what` it is."""
        value = self.get(view, key, where, convert, expected)
        if value is None and (view is None or key not in view):
            self.error(node, where, f"`{key}`{what} is required")
        return value


def scalar(node: Node) -> str:
    value = value11(node)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError
    return str(value)


def abs_path(node: Node) -> str:
    text = scalar(node)
    if not text.startswith("/"):
        raise ValueError
    return os.path.normpath(text)


def rel_path(node: Node) -> str:
    text = scalar(node).strip("/")
    if not text or ".." in text.split("/") or os.path.isabs(scalar(node)):
        raise ValueError
    return os.path.normpath(text)


def list_of(item: Callable[[Node], Any]) -> Callable[[Node], tuple[Any, ...]]:
    def convert(node: Node) -> tuple[Any, ...]:
        if isinstance(node, SequenceNode):
            return tuple(item(n) for n in node.value)
        return (item(node),)
    return convert


def choice(*options: str) -> Callable[[Node], str]:
    def convert(node: Node) -> str:
        text = scalar(node)
        if text not in options:
            raise ValueError
        return text
    return convert


def mode(node: Node) -> int:
    if isinstance(node, ScalarNode) and not node.style and re.fullmatch(r"0[0-7]+", node.value):
        return int(node.value, 8)  # an unquoted 0755 means what it says here
    text = scalar(node)
    if not re.fullmatch(r"[0-7]{3,4}", text):
        raise ValueError
    return int(text, 8)


def number(node: Node) -> float:
    value = value11(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError
    return float(value)


def integer(node: Node) -> int:
    value = value11(node)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def boolean(node: Node) -> bool:
    value = value11(node)
    if not isinstance(value, bool):
        raise ValueError
    return value


def regex(node: Node) -> str:
    text = scalar(node)
    re.compile(text)
    return text
