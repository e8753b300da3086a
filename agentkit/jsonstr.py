"""JSON string literals for text written once per bundle path (install.json, the report's
tree): json.dumps' machinery costs more than the write itself there."""

from __future__ import annotations

import json


def quote(text: str, ascii: bool = True) -> str:
    """json.dumps(text, ensure_ascii=ascii), exactly. Without `ascii`, other characters are
    written as they are, as Ruby's and serde's JSON writers do (file names that are not UTF-8
    keep their bytes as surrogates: write them with errors="surrogateescape")."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=ascii)


def quote_or_null(text: str | None) -> str:
    return "null" if text is None else quote(text)
