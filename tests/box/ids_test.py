"""ids: which host ids the box's ids are (the three kinds of map)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agentkit.box import ids
from agentkit.box.ids import IdMap

RANGE = IdMap("range", ((0, 1000, 1), (1, 100000, 65535)), ((0, 1000, 1), (1, 100000, 65535)))


def test_idmap_inside_maps_the_caller_and_its_range() -> None:
    assert [RANGE.inside(h) for h in (1000, 100000, 165534, 165535, 999, 0)] == [
        0, 1, 65535, None, None, None]
    assert RANGE.top == 65535


@given(st.integers(0, 2**31), st.integers(1, 2**20), st.integers(0, 2**32))
def test_idmap_inside_is_the_offset_within_a_line(outer: int, count: int, host: int) -> None:
    m = IdMap("shifted", ((0, outer, count),), ((0, outer, count),))
    assert m.inside(host) == (host - outer if outer <= host < outer + count else None)
    assert m.top == count - 1


def test_ranges_match_name_or_uid_skip_malformed_and_largest_first(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text("ci:100000:65536\nother:200000:65536\n1234:300000:70000\nci:x:1\n"
                   "ci:400000:0\nbroken line\nci:500000:10\n")
    assert ids._ranges(str(sub), "ci", 1234) == [(300000, 70000), (100000, 65536),
                                                 (500000, 10)]
    assert ids._ranges(str(tmp_path / "none"), "ci", 1234) == []


def test_choose_root_is_shifted_far_from_every_user() -> None:
    m = ids.choose(0, 0)
    assert (m.kind, m.uids == m.gids, len(m.uids), m.uids[0][0], m.uids[0][2], m.note) == (
        "shifted", True, 1, 0, ids.SPAN, "")
    assert m.uids[0][1] >= 60000  # beyond what useradd hands out


def test_choose_user_without_a_range_is_single_and_says_why() -> None:
    uid = 2**31 - 7  # no such user, no range
    m = ids.choose(uid, uid)
    why = (f"{uid} has no range in /etc/subuid and /etc/subgid (usermod --add-subuids "
           f"100000-165535 --add-subgids 100000-165535 {uid})"
           if shutil.which("newuidmap") and shutil.which("newgidmap") else
           "newuidmap is not installed (Debian/Ubuntu: apt-get install uidmap)")
    assert m == IdMap("single", ((0, uid, 1),), ((0, uid, 1),),
                      f"hooks run as root of the box only: {why}, so `runas` users and chown "
                      "to other owners cannot be shown")
