"""store: file names as SQLite keys (order and prefixes kept), and the store's connection."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agentkit.hostview import store

# names as os gives them: any bytes but NUL, carried as str with surrogateescape
_names = st.binary(max_size=20).filter(lambda b: b"\0" not in b).map(
    lambda b: "/" + b.decode("utf-8", "surrogateescape"))


@given(_names)
def test_key_unkey_round_trips_any_name(name: str) -> None:
    assert store.unkey(store.key(name)) == name
    store.key(name).encode("utf-8")  # valid SQLite text


@given(_names, _names)
def test_key_keeps_the_byte_order_of_names(a: str, b: str) -> None:
    raw_a, raw_b = (n.encode("utf-8", "surrogateescape") for n in (a, b))
    assert (store.key(a) < store.key(b)) == (raw_a < raw_b)


@given(_names, _names)
def test_below_bounds_are_exactly_the_paths_under_a_prefix(prefix: str, rest: str) -> None:
    low, high = store.below(store.key(prefix))
    inside = store.key(prefix.rstrip("/") + "/" + rest.lstrip("/"))
    assert low <= inside < high
    sibling = store.key(prefix.rstrip("/") + "0")
    assert not (low < sibling < high)


def test_ascii_names_are_their_own_keys() -> None:
    assert store.key("/srv/app") == "/srv/app"


def test_connect_twice_keeps_committed_rows(tmp_path: Path) -> None:
    db = store.connect(str(tmp_path / "v.db"))
    db.execute("INSERT INTO node(path, parent, state, gen) VALUES ('/a', '/', 1, 1)")
    store.commit(db)
    db.execute("INSERT INTO node(path, parent, state, gen) VALUES ('/b', '/', 1, 1)")
    db.close()  # /b was never committed
    again = store.connect(str(tmp_path / "v.db"))
    try:
        assert again.execute("SELECT path FROM node").fetchall() == [("/a",)]
    finally:
        again.close()
