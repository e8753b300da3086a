"""Pieces of the Install simulation that run once per bundle file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentkit.agent.installer import Instruction, _instruction_json, _lines_backwards


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 16])
def test_lines_backwards_drops_a_torn_last_line(tmp_path: Path, block: int) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(b"/a\n/b c\n\n/d\xff\n/torn")
    assert list(_lines_backwards(str(path), block)) == ["/d\udcff", "", "/b c", "/a"]


@pytest.mark.parametrize("text", [b"", b"no newline", b"\n", b"/only\n"])
def test_lines_backwards_small_files(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(text)
    assert list(_lines_backwards(str(path), 4)) == text.decode().split("\n")[:-1][::-1]


def test_instruction_json_as_json_dumps_would() -> None:
    for inst in [Instruction("copy", "/d/ü \"q\"", source="/a/b\\c"),
                 Instruction("mkdir", "/d"), Instruction("chmod", "/d/x", mode="644"),
                 Instruction("chown", "/d/x", owner="www", group=None),
                 Instruction("setfacl", "/d/x", acl=("u:a:rw", "g:b:r"))]:
        assert _instruction_json(inst) == json.dumps(inst.to_json(), separators=(",", ":"))
