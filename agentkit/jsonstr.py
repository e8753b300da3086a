"""JSON string literals for text written once per bundle path (install.json, the report's
tree): json.dumps' machinery costs more than the write itself there."""

from __future__ import annotations

import json


def quote(text: str) -> str:
    """json.dumps(text), exactly (ASCII output, as json.dumps' default)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


def quote_or_null(text: str | None) -> str:
    return "null" if text is None else quote(text)
