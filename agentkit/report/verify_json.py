"""`agentkit verify --format json`, written piece by piece: the tree and the changes of a big
bundle are tens of thousands of entries, and building them all as one document first would
double the memory verify needs."""

from __future__ import annotations

import json
from typing import IO, Any

from agentkit.agent.result import Node, VerifyResult


def _list(out: IO[str], key: str, items: tuple[Node, ...], last: bool = False) -> None:
    out.write(f'  "{key}": [')
    for i, node in enumerate(items):
        out.write(("\n    " if i == 0 else ",\n    ") + json.dumps(node.to_json()))
    out.write("\n  ]" if items else "]")
    out.write("\n" if last else ",\n")


def write(out: IO[str], result: VerifyResult, previous: VerifyResult | None) -> None:
    head: dict[str, Any] = result.to_json(with_paths=False)
    head["previous"] = None if previous is None else {
        "archive": previous.archive, "result": "succeeded" if previous.succeeded else "failed",
        "failed_event": previous.failure.event if previous.failure else None}
    text = json.dumps(head, indent=2)
    out.write(text[:-2] + ",\n")  # reopen the object: the long lists follow
    _list(out, "tree", result.tree)
    _list(out, "changes", result.changes, last=True)
    out.write("}\n")
