"""agentkit.box.mapped: a function called as root of a user namespace with the box's map."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentkit.box import ids, mapped
from agentkit.errors import BadInput


def _give(path: str) -> tuple[int, int]:
    os.lchown(path, 5, 5)  # box uid 5: a subordinate id of the caller's
    st = os.lstat(path)
    return os.getuid(), st.st_uid


def _fail(text: str) -> None:
    raise BadInput(text)


def test_mapped_call_runs_as_root_of_the_range(tmp_path: Path) -> None:
    idmap = ids.choose()
    if idmap.kind != "range":
        pytest.skip("needs a plain user with a subordinate id range (the CI's plain run)")
    (tmp_path / "f").write_text("x")
    assert mapped.call(idmap, _give, str(tmp_path / "f")) == (0, 5)
    # outside, the file is the 5th id of the range: what the box shows as uid 5
    assert (tmp_path / "f").stat().st_uid == idmap.uids[1][1] + 4
    assert mapped.call(idmap, os.unlink, str(tmp_path / "f")) is None  # removed again


def test_mapped_call_passes_the_function_s_error_back(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as err:
        mapped.call(ids.choose(), _fail, "the paragraph the user sees")
    assert str(err.value) == "the paragraph the user sees"


def test_mapped_call_without_a_range_is_a_plain_call() -> None:
    single = ids.IdMap("single", ((0, os.getuid(), 1),), ((0, os.getgid(), 1),))
    assert mapped.call(single, os.getpid) == os.getpid()
