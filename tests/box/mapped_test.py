"""agentkit.box.mapped: a function called as root of a user namespace with the box's map."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentkit.box import ids, mapped
from agentkit.errors import BadInput, FatalError


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


class _Odd(Exception):
    def __init__(self, code: int, why: str) -> None:  # pickles, but does not unpickle
        super().__init__(f"{code}: {why}")


def _odd() -> None:
    raise _Odd(7, "an error of another library")


def _die() -> None:
    os._exit(9)  # killed, out of memory: no answer at all


def test_mapped_call_errors_that_do_not_travel_become_a_message() -> None:
    idmap = ids.choose()
    if idmap.kind != "range":
        pytest.skip("needs a plain user with a subordinate id range (the CI's plain run)")
    with pytest.raises(FatalError) as err:
        mapped.call(idmap, _odd)
    assert str(err.value) == "_Odd: 7: an error of another library"
    with pytest.raises(FatalError) as err:
        mapped.call(idmap, _die)
    assert str(err.value) == ("the process working in the user namespace died before it "
                              "answered; run the command again (a killed run leaves nothing "
                              "half made)")


def test_mapped_call_without_a_range_is_a_plain_call() -> None:
    single = ids.IdMap("single", ((0, os.getuid(), 1),), ((0, os.getgid(), 1),))
    assert mapped.call(single, os.getpid) == os.getpid()
