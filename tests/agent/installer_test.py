"""Pieces of the Install simulation that run once per bundle file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentkit.agent.install_plan import Instruction
from agentkit.agent.instruction_files import instruction_json, lines_backwards


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 16])
def test_lines_backwards_drops_a_torn_last_line(tmp_path: Path, block: int) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(b"/a\n/b c\n\n/d\xff\n/torn")
    assert list(lines_backwards(str(path), block)) == ["/d\udcff", "", "/b c", "/a"]


@pytest.mark.parametrize("text", [b"", b"no newline", b"\n", b"/only\n"])
def test_lines_backwards_small_files(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(text)
    assert list(lines_backwards(str(path), 4)) == text.decode().split("\n")[:-1][::-1]


def test_instruction_json_as_json_dumps_would() -> None:
    for inst in [Instruction("copy", "/d/ü \"q\"", source="/a/b\\c"),
                 Instruction("mkdir", "/d"), Instruction("chmod", "/d/x", mode="644"),
                 Instruction("chown", "/d/x", owner="www", group=None),
                 Instruction("setfacl", "/d/x", acl=("u:a:rw", "g:b:r"))]:
        assert instruction_json(inst) == json.dumps(inst.to_json(), separators=(",", ":"),
                                                     ensure_ascii=False)


@pytest.mark.parametrize(("raw", "error"), [
    (b"/d/caf\xc3\xa9", None), (b"/d/\xf0\x9f\x98\x80.png", None), (b"/d/plain", None),
    (b"/d/caf\xe9", "partial character in source, but hit end"),
    (b"/d/\xf0\x9f\x98", "partial character in source, but hit end"),
    (b"/d/caf\xe9.txt", "source sequence is illegal/malformed utf-8"),
    (b"/d/\x80x", "source sequence is illegal/malformed utf-8"),  # a lone continuation byte
    (b"/d/\xc0\xafx", "source sequence is illegal/malformed utf-8"),  # overlong "/"
    (b"/d/\xed\xa0\x80x", "source sequence is illegal/malformed utf-8")])  # a surrogate
def test_ruby_json_error_as_json_2_6_raises(raw: bytes, error: str | None) -> None:
    import os

    from agentkit.agent.install_plan import ruby_json_error

    assert ruby_json_error(os.fsdecode(raw)) == error


@pytest.mark.parametrize(("entry", "text"), [
    ("u:nobody:rw", "user:nobody:rw-"), ("nobody:7", "user:nobody:rwx"),
    ("g:adm:r-x", "group:adm:r-x"), ("d:u:nobody:x", "default:user:nobody:--x"),
    ("default:g:adm:5", "default:group:adm:r-x"), ("m::r", "mask::r--"), ("mask:rw", "mask::rw-"),
    ("d:o::0", "default:other::---"), ("u:m:rw", "user:mask:rw-")])
def test_ace_text_ruby_as_get_ace_spells_it(entry: str, text: str) -> None:
    from agentkit.appspec.acl import ace_text_ruby

    assert ace_text_ruby(entry) == text
