"""Per-path bookkeeping of a verify run, kept on disk so memory does not grow with the bundle.

A bundle of 80,000 files needs a record per file (what Install copied where, owners, digests,
the plan). In Python dicts that costs a few KB per file; here it is an SQLite file beside the
sandbox with a bounded page cache. The sandbox's tables persist (`--state-dir`); the bundle's
and the plan's are rebuilt by every run.
"""

from __future__ import annotations

import os
import sqlite3

CACHE_KB = 8192  # page cache per connection: what the store may hold in memory

SCHEMA = """
CREATE TABLE IF NOT EXISTS node(          -- a path the deployment wrote, deleted or chowned
    path TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,     -- 0 nothing, 1 written, 2 written dir, 3 recorded
    whiteout INTEGER NOT NULL DEFAULT 0,  -- the host's version of this path is gone
    hides INTEGER NOT NULL DEFAULT 0,     -- nothing of the host below this path shows
    ouid INTEGER, ogid INTEGER,           -- the owner the agent would set
    src TEXT, mode INTEGER, size INTEGER, mtime REAL,  -- a bundle file recorded here,
    sha TEXT,                                          -- and its digest when known
    gen INTEGER NOT NULL DEFAULT 0        -- when it last changed (Records.mark)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS node_parent ON node(parent);
CREATE TABLE IF NOT EXISTS digest(
    dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, sha TEXT,
    PRIMARY KEY(dev, ino, size, mtime_ns)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS member(        -- this run's archive, by path from its root
    rel TEXT PRIMARY KEY, uid INTEGER, gid INTEGER,  -- owners other than root
    unwritten INTEGER NOT NULL DEFAULT 0,            -- --no-install: read, not written
    sha TEXT, size INTEGER, mtime REAL               -- a regular file, hashed on the way in
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS permitted(path TEXT PRIMARY KEY) WITHOUT ROWID;
"""


# this run's install plan, in order; made again by every plan (the columns may have changed
# since a --state-dir was last used)
PLAN = """
DROP TABLE IF EXISTS instr;
CREATE TABLE instr(
    seq INTEGER PRIMARY KEY, type TEXT NOT NULL, path TEXT NOT NULL, source TEXT,
    mode TEXT, owner TEXT, grp TEXT, acl TEXT,
    context TEXT,                         -- a semanage instruction's context, as JSON
    rel TEXT,                             -- a copy's source as an archive member
    parent TEXT,                          -- a copy's destination directory
    smode INTEGER, ssize INTEGER, smtime REAL,  -- a regular file's lstat, when planned
    fresh INTEGER NOT NULL DEFAULT 0);    -- a regular file into a directory the plan makes
CREATE UNIQUE INDEX instr_copy ON instr(path) WHERE type = 'copy';
"""


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # A throw-away record of a simulated deployment: no fsync; WAL keeps a long transaction
    # on disk rather than in memory, and a crash leaves the last committed state.
    for pragma in ("journal_mode=WAL", "synchronous=OFF", f"cache_size=-{CACHE_KB}",
                   "temp_store=FILE", f"temp.cache_size=-{CACHE_KB // 4}"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(node)")}
    if "gen" not in columns:  # a --state-dir from an agentkit before the column
        db.execute("ALTER TABLE node ADD COLUMN gen INTEGER NOT NULL DEFAULT 0")
    db.execute("BEGIN")
    return db


def commit(db: sqlite3.Connection) -> None:
    db.execute("COMMIT")
    db.execute("BEGIN")


def below(prefix: str) -> tuple[str, str]:
    """Bounds of every path strictly below `prefix` for `path > ? AND path < ?`."""
    base = prefix.rstrip("/") + "/"
    return base, base[:-1] + "0"  # "0" is the character after "/"


def add_digest(db: sqlite3.Connection, st: os.stat_result, sha: str) -> None:
    """The sha256 of a file, keyed by inode and version (size, mtime)."""
    add_digests(db, [(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sha)])


def add_digests(db: sqlite3.Connection, rows: list[tuple[int, int, int, int, str]]) -> None:
    db.executemany("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?, ?)", rows)


def key(path: str) -> str:
    """A path as stored: its bytes as latin-1 characters. SQLite text must be UTF-8 and file
    names need not be (Python carries their odd bytes as surrogates); byte order and prefixes
    survive, so sorting and `below` work on keys as on names. ASCII is its own key."""
    return path if path.isascii() else path.encode("utf-8", "surrogateescape").decode("latin-1")


def unkey(text: str) -> str:
    return text if text.isascii() else text.encode("latin-1").decode("utf-8", "surrogateescape")
