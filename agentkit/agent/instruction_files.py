"""The agent's instruction files as text: install.json's lines as Ruby's to_json writes
them, and the cleanup file read from its end (install_instruction.rb)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from agentkit import beneath, jsonstr
from agentkit.agent.install_plan import Instruction, Member
from agentkit.appspec import acl
from agentkit.appspec.model import Context


def lines_backwards(path: str, block: int = 1 << 16) -> Iterator[str]:
    """The lines of a file, last first, read from the end a block at a time. A last line
    without "\\n" is a torn write: the agent drops it, and so do we."""
    with os.fdopen(beneath.open_regular(path), "rb") as f:  # a hook may leave a FIFO there
        pos = f.seek(0, os.SEEK_END)
        pending = b""  # the start of a line whose beginning is not read yet
        torn = True  # what follows the file's last newline is not a line
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            parts = (f.read(step) + pending).split(b"\n")
            pending = parts[0]
            for part in reversed(parts[1:]):
                if torn:
                    torn = False
                    continue
                yield part.decode("utf-8", "surrogateescape")
        if not torn:
            yield pending.decode("utf-8", "surrogateescape")


def instruction_of(row: tuple[Any, ...], dest: str, source: str) -> tuple[Instruction, Member]:
    """An instruction of Plan.pages, with what the archive said of its source."""
    type_, _, _, mode, owner, group, acl, uid, gid, sha, size, mtime = row[:12]
    return (Instruction(type_, dest, source, mode or "", owner, group,
                        tuple(acl.split("\0")) if acl else (), row[14] or ""),
            Member((uid or 0, gid or 0), sha, size, mtime))


def instruction_json(inst: Instruction) -> str:
    """json.dumps(inst.to_json(), separators=(",", ":"), ensure_ascii=False): names as they
    are, as Ruby's to_json writes them; copies written out, as there is one per file."""
    if inst.type == "copy":
        return copy_json(inst.source, inst.path)
    if inst.type == "mkdir":
        return f'{{"type":"mkdir","directory":{jsonstr.quote(inst.path, False)}}}'
    return json.dumps(inst.to_json(), separators=(",", ":"), ensure_ascii=False)


def copy_json(source: str, dest: str) -> str:
    return (f'{{"type":"copy","source":{jsonstr.quote(source, False)},'
            f'"destination":{jsonstr.quote(dest, False)}}}')


def context_json(ctx: Context) -> str:
    """ChangeContextCommand#to_h's context: 1.x never sets a role; the range as get_range
    spells it (null here when there is none: the agent crashes on it)."""
    return json.dumps({"user": ctx.name, "role": None, "type": ctx.type,
                       "range": None if ctx.range is None else acl.range_text_ruby(ctx.range)},
                      separators=(",", ":"), ensure_ascii=False)
