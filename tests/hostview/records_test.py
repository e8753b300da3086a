"""Records: the sandbox's bookkeeping per path, over a real SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.hostview import store
from agentkit.hostview.records import (
    PAGE,
    RECORDED,
    WRITTEN,
    WRITTEN_DIR,
    Record,
    Records,
    parent_of,
)


@pytest.fixture
def records(tmp_path: Path) -> Iterator[Records]:
    db = store.connect(str(tmp_path / "view.db"))
    yield Records(db)
    db.close()


def _plain(path: str, state: int, uid: int | None = None, gid: int | None = None,
           mode: int | None = None) -> Record:
    return Record(path, state, 0, uid, gid, None, mode, None, None, None, 0)


@pytest.mark.parametrize("norm, parent", [("/", "/"), ("/a", "/"), ("/a/b", "/a"),
                                          ("/a/b/c.txt", "/a/b")])
def test_parent_of_is_dirname(norm: str, parent: str) -> None:
    assert parent_of(norm) == parent == os.path.dirname(norm)


def test_records_get_unknown_path_is_none(records: Records) -> None:
    assert records.get("/nothing") is None


def test_records_put_then_get_is_the_record(records: Records, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("abc")
    st_ = os.lstat(f)
    records.put("/srv/app/f", RECORDED, (10, 20), recorded=st_, src="/bundle/f", sha="00ff")
    assert records.get("/srv/app/f") == Record(
        "/srv/app/f", RECORDED, 0, 10, 20, "/bundle/f", st_.st_mode, 3, st_.st_mtime, "00ff", 0)


def test_records_put_without_owner_keeps_the_one_recorded(records: Records) -> None:
    records.put("/a", WRITTEN, (5, 6), mode=0o100644)
    records.put("/a", WRITTEN_DIR, None, mode=0o40755)
    assert records.get("/a") == _plain("/a", WRITTEN_DIR, 5, 6, 0o40755)


# file names as os gives them: text without lone surrogates, or any bytes (surrogateescape)
_name = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\0"),
               min_size=1, max_size=12) | \
    st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b)\
    .map(lambda b: b.decode("utf-8", "surrogateescape"))


@settings(max_examples=50)
@given(st.lists(_name, min_size=1, max_size=4))
def test_records_any_file_name_round_trips(tmp_path_factory: pytest.TempPathFactory,
                                           parts: list[str]) -> None:
    db = store.connect(str(tmp_path_factory.mktemp("db") / "view.db"))
    try:
        records = Records(db)
        path = "/" + "/".join(parts)
        records.put(path, WRITTEN, (0, 0), src=path + "-src")
        assert records.get(path) == Record(path, WRITTEN, 0, 0, 0, path + "-src", None, None,
                                           None, None, 0)
        assert [r.path for r in records.children(parent_of(path))] == [path]
    finally:
        db.close()


def test_records_pending_puts_are_seen_by_the_next_read(records: Records) -> None:
    records.put("/later", WRITTEN, later=True)
    assert records.get("/later") == _plain("/later", WRITTEN)


def test_records_page_yields_every_record_in_path_order(records: Records) -> None:
    paths = [f"/d/{i:05d}" for i in range(PAGE * 2 + 3)]
    for p in reversed(paths):
        records.put(p, WRITTEN, later=True)
    assert [r.path for r in records.page("n.state = ?", WRITTEN)] == paths


def test_records_changed_since_a_mark_is_what_changed_after(records: Records) -> None:
    records.put("/before", WRITTEN)
    records.put("/both", WRITTEN)
    moment = records.mark()
    records.put("/after", WRITTEN)
    records.set_owner("/both", 1, 2)
    assert [r.path for r in records.changed_since(moment)] == ["/after", "/both"]


def test_records_gone_host_directory_whites_out_and_hides(records: Records) -> None:
    records.put("/a", WRITTEN, (1, 1), src="/s", sha="ab", mode=0o100600)
    records.gone("/a", True)
    records.gone("/b", False)
    records.gone("/c", None)
    assert [records.get(p) for p in ("/a", "/b", "/c")] == [
        Record("/a", 0, 1, None, None, None, None, None, None, None, 1),
        Record("/b", 0, 1, None, None, None, None, None, None, None, 0),
        Record("/c", 0, 0, None, None, None, None, None, None, None, 0)]
    assert records.hiding() == {"/a"}


def test_records_delete_below_keeps_the_path_and_its_siblings(records: Records) -> None:
    for p in ("/a", "/a/b", "/a/b/c", "/a0", "/ab", "/a-b"):
        records.put(p, WRITTEN)
    records.delete_below("/a")
    assert [r.path for r in records.page("1")] == ["/a", "/a-b", "/a0", "/ab"]


def test_records_set_mode_and_unrecord(records: Records) -> None:
    records.put("/f", RECORDED, (0, 0), src="/bundle/f", sha="aa")
    records.set_mode("/f", 0o100700)
    records.unrecord("/f")
    assert records.get("/f") == _plain("/f", WRITTEN, 0, 0, 0o100700)


def test_records_touched_dirs_are_the_parents_and_their_ancestors(records: Records) -> None:
    records.put("/srv/app/deep/f", WRITTEN)
    records.gone("/etc/old", False)  # a host file deleted
    records.gone("/tmp/never", None)  # nothing there, on the host or of the deployment
    records.put("/opt/owned", 0)
    records.set_owner("/opt/owned", 1, 1)
    records.put("/var/lib/untouched", 0)
    assert records.touched_dirs() == {"/", "/srv", "/srv/app", "/srv/app/deep", "/etc", "/opt"}


def test_records_written_and_recorded_parents(records: Records) -> None:
    records.put("/a/x", WRITTEN)
    records.put("/b/y", RECORDED)
    records.put("/b/z", RECORDED)
    assert sorted(records.written_parents()) == ["/a", "/b"]
    assert records.recorded_parents() == [("/b", 2)]


def test_records_new_records_on_an_old_store_continue_its_generation(tmp_path: Path) -> None:
    path = str(tmp_path / "view.db")
    db = store.connect(path)
    first = Records(db)
    first.put("/a", WRITTEN)
    store.commit(db)
    db.close()
    db = store.connect(path)
    try:
        again = Records(db)
        assert again.gen == first.gen + 1
        again.put("/b", WRITTEN)
        assert [r.path for r in again.changed_since(first.gen)] == ["/b"]
    finally:
        db.close()
