"""A section of a YAML file as data: its keys, what each accepts (a Conv), its default and
whether it is required; read with a Reader, every problem kept, and written out as JSON Schema
from the same data, so the checks and the editors' schema cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentkit.yamlconf.descriptions import DESCRIPTIONS
from agentkit.yamlconf.reader import Conv, Reader
from agentkit.yamlconf.source import Node
from agentkit.yamlconf.view import MapView, Path

LISTS = ("permissions",)  # keys whose section is the shape of each item of a list


@dataclass(frozen=True)
class Key:
    name: str
    conv: Conv[Any] | None  # None: read by the section's owner (its shape is its own)
    expected: str = ""  # what the error says a good value is ("an absolute path")
    default: Any = None
    required: str | None = None  # required: what it is, for "`root` (...) is required"
    section: Section | None = None  # a mapping of its own (health > drain)
    json: dict[str, Any] = field(default_factory=dict)  # the schema of a conv-less key

    def schema(self, path: str) -> dict[str, Any]:
        """Its JSON Schema; `path` names it in DESCRIPTIONS (`shared.root`)."""
        out: dict[str, Any]
        if self.section is not None and self.name in LISTS:
            out = {"type": ["array", "null"], "items": self.section.schema(f"{path}[]")}
        elif self.section is not None:
            out = self.section.schema(path)
        else:
            out = dict(self.conv.json if self.conv is not None else self.json)
        if path in DESCRIPTIONS:
            out["description"] = DESCRIPTIONS[path]
        if self.default not in (None, ()) and isinstance(self.default, (str, int, float)):
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Section:
    name: str
    keys: tuple[Key, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def read(self, r: Reader, node: Node | None, where: Path
             ) -> tuple[MapView, dict[str, Any]] | None:
        """The section's values by key name, with its view (for what the owner checks
        itself); None when it is absent, not a mapping or misses a required key."""
        view = r.map(node, where, self.names())
        if view is None:
            return None
        values = self.values(r, view, node, where)
        return None if values is None else (view, values)

    def values(self, r: Reader, view: MapView | None, node: Node | None,
               where: Path) -> dict[str, Any] | None:
        """Required keys first: without one, the rest is not looked at (one error, not a
        cascade); then each other key, its default when absent."""
        out: dict[str, Any] = {}
        for key in self.keys:
            if key.required is not None and key.conv is not None:
                value = r.required(view, node, key.name, where, key.conv, key.expected,
                                   key.required)
                if value is None:
                    return None
                out[key.name] = value
        for key in self.keys:
            if key.required is not None or (key.conv is None and key.section is None):
                continue
            if key.section is not None:
                inner = (*where, key.name)
                sub = r.map(view.get(key.name) if view else None, inner, key.section.names())
                out[key.name] = key.section.values(r, sub, None, inner)
            else:
                assert key.conv is not None
                out[key.name] = r.get(view, key.name, where, key.conv, key.expected,
                                      key.default)
        return out

    def schema(self, path: str) -> dict[str, Any]:
        """Its JSON Schema; `path` is where it sits in the file ("" for the top)."""
        out: dict[str, Any] = {"type": "object", "properties": {
            k.name: k.schema(f"{path}.{k.name}" if path else k.name) for k in self.keys},
            "additionalProperties": False}
        required = [k.name for k in self.keys if k.required is not None]
        if required:
            out["required"] = required
        if path in DESCRIPTIONS:
            out["description"] = DESCRIPTIONS[path]
        return out
