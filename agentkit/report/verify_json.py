"""`agentkit verify --format json`, written piece by piece: the tree and the changes of a big
bundle are tens of thousands of entries, and building them all as one document first would
double the memory verify needs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from agentkit import jsonstr
from agentkit.diagnose.engine import Diagnosis
from agentkit.verify.result import Node, VerifyResult

_q = jsonstr.quote_or_null


def _node(n: Node) -> str:
    """json.dumps(n.to_json()), written out: this runs twice per path of the bundle. Only
    the path and the link target can hold characters JSON escapes: the other fields are
    words, octal digits, hex digits and "uid:gid"."""
    change = "" if n.change is None else f'"change": "{n.change}", '
    mode = "null" if n.mode is None else f'"{n.mode}"'
    sha = "null" if n.sha256 is None else f'"{n.sha256}"'
    owner = "null" if n.owner is None else f'"{n.owner}"'
    return (f'{{"path": {jsonstr.quote(n.path)}, {change}"type": "{n.type}", "mode": {mode}, '
            f'"target": {_q(n.target)}, "sha256": {sha}, "owner": {owner}}}')


def _list(out: IO[str], key: str, items: Iterable[Node], last: bool = False) -> None:
    out.write(f'  "{key}": [')
    count = 0
    for node in items:
        out.write(("\n    " if count == 0 else ",\n    ") + _node(node))
        count += 1
    out.write("\n  ]" if count else "]")
    out.write("\n" if last else ",\n")


def write(out: IO[str], result: VerifyResult, previous: VerifyResult | None,
          diagnoses: tuple[Diagnosis, ...] = ()) -> None:
    head: dict[str, Any] = result.to_json(with_paths=False)
    head["diagnoses"] = [d.to_json() for d in diagnoses]
    head["previous"] = None if previous is None else {
        "archive": previous.archive, "result": "succeeded" if previous.succeeded else "failed",
        "failed_event": previous.failure.event if previous.failure else None}
    text = json.dumps(head, indent=2)
    out.write(text[:-2] + ",\n")  # reopen the object: the long lists follow
    _list(out, "tree", result.tree)
    _list(out, "changes", result.changes, last=True)
    out.write("}\n")
