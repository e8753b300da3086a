"""Read-only access to YAML nodes as each agent generation sees them.

`value11` is Psych's reading (YAML 1.1, what the Ruby agent gets); `Plain` describes a scalar
as serde_yaml sees it (YAML 1.2 core schema: only true/false are booleans, no octal 0644).
Mappings keep the first position and the last value of a repeated key, as Ruby's Hash and
serde's IndexMap both do; the repeats are remembered for the duplicate-key rules.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

from agentkit.yamlconf.source import MappingNode, Node, ScalarNode, SequenceNode, scalar_value

PathPart = Union[str, int]
Path = tuple[PathPart, ...]


def pos(node: Node | None) -> tuple[int | None, int | None]:
    if node is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def value11(node: Node | None) -> Any:
    """The Ruby value Psych builds from this node (YAML 1.1 typing, last duplicate wins)."""
    if node is None:
        return None
    if isinstance(node, ScalarNode):
        return scalar_value(node)
    if isinstance(node, SequenceNode):
        return [value11(n) for n in node.value]
    out: dict[Any, Any] = {}
    for k, v in node.value:
        key = value11(k)
        try:
            out[key] = value11(v)
        except TypeError:  # an unhashable (list/map) key: Ruby allows it, nothing reads it
            out[repr(key)] = value11(v)
    return out


@dataclass(frozen=True)
class Entry:
    key: Any
    key_node: Node
    value: Node


class MapView:
    """A mapping node with Ruby Hash / IndexMap semantics and its duplicate keys."""

    def __init__(self, node: MappingNode) -> None:
        self.node = node
        self._entries: dict[Any, Entry] = {}
        self.duplicates: list[Entry] = []
        for knode, vnode in node.value:
            key = value11(knode) if isinstance(knode, ScalarNode) else repr(value11(knode))
            try:
                hash(key)
            except TypeError:
                key = repr(key)
            if key in self._entries:
                self.duplicates.append(Entry(key, knode, vnode))
                first = self._entries[key]
                self._entries[key] = Entry(key, first.key_node, vnode)
            else:
                self._entries[key] = Entry(key, knode, vnode)

    def get(self, key: str) -> Node | None:
        entry = self._entries.get(key)
        return entry.value if entry else None

    def entry(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def entries(self) -> list[Entry]:
        return list(self._entries.values())



def is_null11(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and scalar_value(node) is None)


# --- YAML 1.2 core schema, as serde_yaml 0.9 resolves plain scalars ----------------------------
_NULL12 = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL12 = {"true": True, "True": True, "TRUE": True,
           "false": False, "False": False, "FALSE": False}
_INT12 = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|[-+]?0x[0-9a-fA-F]+|[-+]?0o[0-7]+|[-+]?0b[01]+")
_FLOAT12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL12 = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan,
              ".Inf": math.inf, "+.Inf": math.inf, "-.Inf": -math.inf, ".NaN": math.nan,
              ".INF": math.inf, "+.INF": math.inf, "-.INF": -math.inf, ".NAN": math.nan}


def plain12(node: Node | None) -> tuple[str, Any]:
    """(kind, value) of a node for serde_yaml: kind is null/bool/int/float/string/seq/map."""
    if node is None:
        return "null", None
    if isinstance(node, SequenceNode):
        return "seq", node
    if isinstance(node, MappingNode):
        return "map", node
    assert isinstance(node, ScalarNode)
    text = node.value
    if node.style:  # quoted or block scalars are always strings
        return "string", text
    if text in _NULL12:
        return "null", None
    if text in _BOOL12:
        return "bool", _BOOL12[text]
    if _INT12.fullmatch(text):
        return "int", _int12(text)
    if len(text.lstrip("+-")) > 1 and text.lstrip("+-").startswith("0") and \
            text.lstrip("+-").isdigit():
        return "string", text  # serde_yaml: leading-zero digits are neither int nor float
    if text in _SPECIAL12:
        return "float", _SPECIAL12[text]
    if _FLOAT12.fullmatch(text) and any(c.isdigit() for c in text):
        return "float", float(text)
    return "string", text


def _int12(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if body.startswith(prefix):
            return sign * int(body[2:], base)
    return sign * int(body)


def chain(path: Path) -> str:
    """`hooks > AfterInstall[0] > timeout` from ('hooks', 'AfterInstall', 0, 'timeout')."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and out:
            out[-1] += f"[{part}]"
        else:
            out.append(str(part))
    return " > ".join(out)
