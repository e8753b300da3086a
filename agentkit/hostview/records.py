"""What the sandbox knows per path, as named records over the store's `node` table.

The HostView (view.py) is the view of the machine; this module is its bookkeeping: which
paths the deployment wrote, recorded, deleted or chowned, with the owner the agent would set.
Owners live here and only here: verify never applies them to files on disk, so Install needs
no privilege (an unprivileged user cannot chown) and gives the same answer for every user.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from agentkit.hostview import store

NOTHING, WRITTEN, WRITTEN_DIR, RECORDED = 0, 1, 2, 3
AGENT_OWNER = (0, 0)  # the agent runs as root: what it creates is root's unless told
PAGE = 512  # records fetched or written at once when going through many
TOUCHED = "n.state > 0 OR n.whiteout = 1 OR n.ouid IS NOT NULL"  # what the deployment did

_COLUMNS = ("n.path, n.state, n.whiteout, n.ouid, n.ogid, n.src, n.mode, n.size, n.mtime, "
            "n.sha, n.hides")
SELECT = f"SELECT {_COLUMNS} FROM node n "
_NODE = "INSERT INTO node(path, parent, state, ouid, ogid, src, mode, size, mtime, sha, gen) "
UPSERT = (" ON CONFLICT(path) DO UPDATE "
          "SET state = excluded.state, ouid = COALESCE(excluded.ouid, ouid), "
          "ogid = COALESCE(excluded.ogid, ogid), src = excluded.src, mode = excluded.mode, "
          "size = excluded.size, mtime = excluded.mtime, sha = excluded.sha, gen = excluded.gen")
_PUT = _NODE + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" + UPSERT


class Record(NamedTuple):
    """One path's record. `src`, `mode`, `size`, `mtime` and `sha` describe a bundle file
    recorded at the path instead of copied (state RECORDED)."""

    path: str
    state: int  # NOTHING, WRITTEN, WRITTEN_DIR, RECORDED
    whiteout: int  # the host's version of this path is gone
    uid: int | None  # the owner the agent would set (None: as found)
    gid: int | None
    src: str | None
    mode: int | None
    size: int | None
    mtime: float | None
    sha: str | None
    hides: int = 0  # nothing of the host below this path shows


def _record(row: tuple[object, ...]) -> Record:
    """A row as a Record, its path and source as names again (see store.key)."""
    rec = Record._make(row)
    if rec.path.isascii() and (rec.src is None or rec.src.isascii()):
        return rec
    return rec._replace(path=store.unkey(rec.path),
                        src=None if rec.src is None else store.unkey(rec.src))


def parent_of(norm: str) -> str:
    """os.path.dirname of a normalised absolute path, without its generality (per file)."""
    cut = norm.rfind("/")
    return norm[:cut] if cut > 0 else "/"


class Records:
    """The node table: every statement on it goes through here, pending inserts first."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._pending: list[tuple[object, ...]] = []  # records of fresh files, written in bulk
        row = db.execute("SELECT COALESCE(MAX(gen), 0) FROM node").fetchone()
        self.gen = int(row[0]) + 1  # stamped on every change: what changed since a moment

    def mark(self) -> int:
        """A moment: changed_since(mark()) yields what changes from now on."""
        self.flush()
        self.gen += 1
        return self.gen - 1

    def changed_since(self, moment: int) -> Iterator[Record]:
        return self.page("n.gen > ?", moment)

    def flush(self) -> None:
        if self._pending:
            self.db.executemany(_PUT, self._pending)
            self._pending.clear()

    def sql(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        if self._pending:
            self.flush()
        return self.db.execute(sql, args)

    def get(self, norm: str) -> Record | None:
        found = self.sql(SELECT + "WHERE n.path = ?", (store.key(norm),)).fetchone()
        return None if found is None else _record(found)

    def children(self, norm: str) -> Iterator[Record]:
        return map(_record, self.sql(SELECT + "WHERE n.parent = ?", (store.key(norm),)))

    def page(self, where: str, *args: object) -> Iterator[Record]:
        """Records in path order, a page at a time: the caller may write meanwhile."""
        last = ""
        while True:
            rows = self.sql(f"{SELECT} WHERE ({where}) AND n.path > ? ORDER BY n.path "
                            f"LIMIT {PAGE}", (*args, last)).fetchall()
            yield from map(_record, rows)
            if len(rows) < PAGE:
                return
            last = rows[-1][0]

    def put(self, norm: str, state: int, owner: tuple[int, int] | None = None,
            recorded: os.stat_result | None = None, src: str | None = None,
            sha: str | None = None, later: bool = False, mode: int | None = None) -> None:
        """Upsert a record; an owner of None keeps the one recorded before. `recorded`: the
        lstat of a bundle file recorded here; `mode`: the st_mode a written path shows."""
        uid, gid = owner if owner else (None, None)
        st = recorded
        values = (store.key(norm), store.key(parent_of(norm)), state, uid, gid,
                  None if src is None else store.key(src),
                  *((st.st_mode, st.st_size, st.st_mtime) if st is not None
                    else (mode, None, None)),
                  sha, self.gen)
        if later:
            self._pending.append(values)
            if len(self._pending) >= PAGE:
                self.flush()
        else:
            self.sql(_PUT, values)

    def put_query(self, query: str, args: tuple[object, ...]) -> None:
        """RECORDED records for every row of `query`: (path, parent, uid, gid, src, mode,
        size, mtime, sha), paths as keys."""
        self.sql(f"{_NODE}SELECT path, parent, {RECORDED}, uid, gid, src, mode, size, mtime, "
                 f"sha, {self.gen} FROM ({query}) WHERE true{UPSERT}", args)

    def parents_of_query(self, query: str, args: tuple[object, ...]) -> list[str]:
        return [store.unkey(p) for (p,) in
                self.sql(f"SELECT DISTINCT parent FROM ({query})", args).fetchall()]

    def gone(self, norm: str, host_dir: bool | None) -> None:
        """Nothing of the deployment at norm any more; host_dir: whether the host has norm
        (None: not at all, True: as a directory, whose content is hidden from now on)."""
        self.sql(
            "INSERT INTO node(path, parent, whiteout, hides, gen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET state = 0, ouid = NULL, ogid = NULL, src = NULL, "
            "sha = NULL, mode = NULL, whiteout = MAX(whiteout, excluded.whiteout), "
            "hides = MAX(hides, excluded.hides), gen = excluded.gen",
            (store.key(norm), store.key(parent_of(norm)), int(host_dir is not None),
             int(bool(host_dir)), self.gen))

    def delete_below(self, norm: str) -> None:
        """Forget every record strictly below norm."""
        self.sql("DELETE FROM node WHERE path > ? AND path < ?", store.below(store.key(norm)))

    def hide_below(self, norm: str) -> None:
        self.sql("UPDATE node SET hides = 1, gen = ? WHERE path = ?", (self.gen, store.key(norm)))

    def set_owner(self, norm: str, uid: int, gid: int) -> None:
        self.sql("UPDATE node SET ouid = ?, ogid = ?, gen = ? WHERE path = ?",
                 (uid, gid, self.gen, store.key(norm)))

    def set_mode(self, norm: str, mode: int) -> None:
        """The st_mode the view shows (the copy on disk stays readable and writable to us)."""
        self.sql("UPDATE node SET mode = ?, gen = ? WHERE path = ?",
                 (mode, self.gen, store.key(norm)))

    def unrecord(self, norm: str) -> None:
        """A recorded file became a real copy in the upper layer (state WRITTEN; its mode,
        as the view shows it, stays in the record)."""
        self.sql("UPDATE node SET state = 1, src = NULL, sha = NULL, gen = ? WHERE path = ?",
                 (self.gen, store.key(norm)))

    def written_parents(self) -> Iterator[str]:
        for (parent,) in self.sql("SELECT DISTINCT parent FROM node WHERE state > 0"):
            yield store.unkey(parent)

    def touched_dirs(self) -> set[str]:
        """Every directory holding a path the deployment wrote, deleted or chowned, with
        their ancestors: what the report's tree goes into."""
        found: set[str] = set()
        for (parent,) in self.sql(f"SELECT DISTINCT n.parent FROM node n WHERE {TOUCHED}"):
            path = store.unkey(parent)
            while path not in found:
                found.add(path)
                if path == "/":
                    break
                path = parent_of(path)
        return found

    def hiding(self) -> set[str]:
        return {store.unkey(p) for (p,) in self.sql("SELECT path FROM node WHERE hides = 1")}

    def recorded_parents(self) -> list[tuple[str, int]]:
        return [(store.unkey(parent), count) for parent, count in self.sql(
            f"SELECT parent, COUNT(*) FROM node WHERE state = {RECORDED} GROUP BY parent")]

    def digest(self, key: tuple[int, int, int, int]) -> str | None:
        row = self.sql("SELECT sha FROM digest WHERE dev = ? AND ino = ? AND size = ? "
                       "AND mtime_ns = ?", key).fetchone()
        return None if row is None else str(row[0])

    def skip_parents(self, parents: tuple[str, ...]) -> None:
        """Fill temp.skipped, for touched() to leave out recorded files in these parents."""
        self.sql("CREATE TEMP TABLE IF NOT EXISTS skipped(parent TEXT PRIMARY KEY)")
        self.sql("DELETE FROM temp.skipped")
        self.db.executemany("INSERT OR IGNORE INTO temp.skipped VALUES (?)",
                            [(store.key(p),) for p in parents])
