"""The fast JSON string literal is json.dumps' exactly."""

from __future__ import annotations

import json

import pytest

from agentkit import jsonstr


@pytest.mark.parametrize("text", [
    "", "/srv/app/web/a.css", "a b", 'say "hi"', "back\\slash", "tab\there", "nl\n",
    "\x7f", "\x00", "ü", "\udcff", "/a/\u2028", "~!@#$%^&*()_+`-={}[]|:;'<>?,./"])
def test_quote_same_as_json_dumps(text: str) -> None:
    assert jsonstr.quote(text) == json.dumps(text)


def test_quote_or_null_of_none() -> None:
    assert (jsonstr.quote_or_null(None), jsonstr.quote_or_null("x")) == ("null", '"x"')


@pytest.mark.parametrize("text", ["ü", "a\"ü\n", "\udce9", "/d/caf\udce9"])
def test_quote_unicode_as_is_same_as_json_dumps(text: str) -> None:
    assert jsonstr.quote(text, ascii=False) == json.dumps(text, ensure_ascii=False)
