"""The subprocess wrapper's streaming pieces, with real child processes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from agentkit import proc


def test_stdin_sink_delivers_every_part_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    chunks = [os.urandom(n) for n in (1, 511, 70_000, 3, 2 << 20)] * 40  # ~80 MB, 200 parts
    with tempfile.TemporaryFile() as err, \
            proc.stdin_sink(["sh", "-c", f"cat > {out}"], err) as write:
        for i in range(0, len(chunks), 7):
            write([memoryview(c) for c in chunks[i:i + 7]])
    assert out.read_bytes() == b"".join(chunks)


def test_stdin_sink_child_failure_is_child_process_error() -> None:
    with tempfile.TemporaryFile() as err:
        with pytest.raises(ChildProcessError) as exc, \
                proc.stdin_sink(["sh", "-c", "cat >/dev/null; echo no >&2; exit 3"],
                                err) as write:
            write([memoryview(b"data")])
        err.seek(0)
        assert (exc.value.args, err.read()) == ((3,), b"no\n")
