"""Install's plan: the instructions installer.rb generates, in order, with the conflict
checks the agent makes while generating them (two sources for one destination, a file over a
planned directory, a permission matched twice). Copies and permission targets (one per
bundle file) live in the store; directories, a few per thousand files, in memory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from typing import Any, NamedTuple

from agentkit.agent import linked_dirs
from agentkit.hostview import store
from agentkit.hostview.records import PAGE

TWO_SOURCES = ("The deployment failed because the application specification file specifies "
               "two source files named {} and {} for the same destination ({}). Remove one of the "
               "source file paths from the AppSpec file, and then try again.")
FILE_OVER_DIR = ("The deployment failed because the application specification file calls for "
                 "installing the file {}, but a file with that name already exists at the "
                 "location ({}). Update your AppSpec file or directory structure, and then try "
                 "again.")
MKDIR_OVER_FILE = ("The deployment failed because the application specification file includes "
                   "an mkdir command more than once for the same destination path ({}) from ({})."
                   " Update the files section of the AppSpec file, and then try again.")
PERMISSION_TWICE = ("The deployment failed because the permissions setting for ({}) is "
                    "specified more than once in the application specification file. Update the "
                    "files section of the AppSpec file, and then try again.")

class InstallError(Exception):
    """The agent's Install failure; str() is its message (without the 2.x prefix)."""


class Member(NamedTuple):
    """What the archive said of a copy's source: its owner, and its digest when it was a
    regular file of that size and time (as tar left it)."""

    owner: tuple[int, int]
    sha: str | None
    size: int | None
    mtime: float | None


class Instruction(NamedTuple):  # one per bundle file: a tuple is cheap to make
    type: str  # copy, mkdir, chmod, chown, setfacl
    path: str  # destination / directory / file
    source: str = ""
    mode: str = ""
    owner: str | None = None
    group: str | None = None
    acl: tuple[str, ...] = ()
    context: str = ""  # semanage: the context object, as JSON text

    def to_json(self) -> dict[str, object]:
        if self.type == "copy":
            return {"type": "copy", "source": self.source, "destination": self.path}
        if self.type == "mkdir":
            return {"type": "mkdir", "directory": self.path}
        if self.type == "chmod":
            return {"type": "chmod", "mode": self.mode, "file": self.path}
        if self.type == "setfacl":
            return {"type": "setfacl", "acl": list(self.acl), "file": self.path}
        if self.type == "semanage":
            return {"type": "semanage", "context": json.loads(self.context), "file": self.path}
        return {"type": "chown", "owner": self.owner, "group": self.group, "file": self.path}


_COPY = ("INSERT INTO instr(seq, type, path, source, rel, parent, smode, ssize, smtime, fresh) "
         "VALUES (?, 'copy', ?, ?, ?, ?, ?, ?, ?, ?)")
_MKDIR = "INSERT INTO instr(seq, type, path) VALUES (?, 'mkdir', ?)"
# (a fresh copy's member is looked up by FRESH, in bulk: not here)
_ROWS = ("SELECT i.type, i.path, i.source, i.mode, i.owner, i.grp, i.acl, m.uid, m.gid, m.sha, "
         "m.size, m.mtime, i.fresh, i.seq, i.context FROM instr i LEFT JOIN member m "
         "ON m.rel = (CASE WHEN i.fresh THEN NULL ELSE ? || i.rel END) ORDER BY i.seq")
# The fresh copies between two instructions, as HostView.record_all wants them: what _do_copy
# records for each (the member's digest only when the file is as tar left it).
FRESH = ("SELECT i.path AS path, i.parent AS parent, COALESCE(m.uid, 0) AS uid, "
          "COALESCE(m.gid, 0) AS gid, i.source AS src, i.smode AS mode, i.ssize AS size, "
          "i.smtime AS mtime, CASE WHEN m.size = i.ssize AND abs(m.mtime - i.smtime) < 1e-3 "
          "THEN m.sha END AS sha FROM instr i LEFT JOIN member m ON m.rel = ? || i.rel "
          "WHERE i.fresh = 1 AND i.seq > ? AND i.seq < ?")


class Plan:
    """The instructions in order. Copies and permission targets (one per bundle file) live in
    the store; directories, a few per thousand files, in memory."""

    def __init__(self, db: sqlite3.Connection, archive: str) -> None:
        self.db = db
        self.archive = archive
        db.executescript(store.PLAN)
        db.execute("BEGIN")  # executescript committed the open transaction
        db.execute("DELETE FROM permitted")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS matched(path TEXT)")
        self.mkdirs: dict[str, None] = {}  # insertion-ordered set
        self.outside = linked_dirs.Budget()  # links to directories outside the bundle
        self._prefix = archive + "/"
        self.json_error: str | None = None  # what Ruby's JSON says of the first bad name
        self._seq = 0  # the last instruction's number
        # not yet stored: rows for _COPY (their destinations and sources by key) and _MKDIR
        self._copies: list[tuple[object, ...]] = []
        self._batch: dict[str, str] = {}
        self._dirs: list[tuple[int, str]] = []
        self.fresh_parents: set[str] = set()  # where copies were flagged fresh (copy_fresh)
        self.taken: set[str] = set()  # planned directories where something else is (mkdir)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def flush(self) -> None:
        """Store the pending instructions; raises for the first copy whose destination is
        taken (copies are numbered in plan order, so that is the agent's first error)."""
        if self._dirs:
            self.db.executemany(_MKDIR, self._dirs)
            self._dirs = []
        if not self._copies:
            return
        pending, self._copies = self._copies, []
        self._batch.clear()
        self.db.execute("SAVEPOINT copies")
        try:
            self.db.executemany(_COPY, pending)
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK TO copies")
            for row in pending:  # one by one, to name the first conflict
                try:
                    self.db.execute(_COPY, row)
                except sqlite3.IntegrityError:
                    name = store.unkey(str(row[1]))
                    raise InstallError(TWO_SOURCES.format(store.unkey(str(row[2])),
                                                          self.copied(name), name)) from None
        finally:
            self.db.execute("RELEASE copies")

    def _check_utf8(self, *texts: str) -> None:
        """Agent 1.x writes install.json with Ruby's JSON, which fails on a file name that is
        not UTF-8; the first such name, in the file's order, is Install's error."""
        for text in texts:
            if self.json_error is None and not text.isascii():
                self.json_error = ruby_json_error(text)

    def add(self, inst: Instruction) -> None:
        self._check_utf8(inst.path)
        self.flush()
        self.db.execute("INSERT INTO instr(seq, type, path, source, mode, owner, grp, acl, "
                        "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self._next(), inst.type, store.key(inst.path), store.key(inst.source),
                         inst.mode, inst.owner, inst.group, "\0".join(inst.acl), inst.context))

    def copy(self, source: str, dest: str, st: os.stat_result | None = None,
             rel: str | None = None, fresh: bool = False) -> None:
        """`st`: the source's lstat, when known (a regular file's is kept for execute);
        `rel`: the archive member it is (default: source's path in the archive); `fresh`: a
        regular file into a directory made in place (copy_fresh)."""
        key = os.path.normpath(dest)
        if key in self.mkdirs:
            self.flush()  # an earlier conflict is reported first
            raise InstallError(FILE_OVER_DIR.format(source, key))
        prefix = self._prefix
        if rel is None:
            rel = source[len(prefix):] if source.startswith(prefix) and "/." not in source \
                else os.path.relpath(source, self.archive)
        regular = st if st is not None and stat.S_ISREG(st.st_mode) else None
        self._check_utf8(source, key)
        self._add_copy(store.key(key), store.key(source), store.key(rel),
                       store.key(key[:key.rfind("/")] or "/"), regular,
                       fresh and regular is not None)

    def copy_fresh(self, entries: list[os.DirEntry[str]], dest_dir: str, dir_key: str,
                   in_place: bool) -> None:
        """copy() of bundle entries (not directories) of one directory into dest_dir, a
        normalised directory this plan makes (`dir_key`: its key): a regular file's lstat goes
        with it. With `in_place` (dest_dir is made at its own path: Installer._in_place), a
        regular file is flagged fresh: execute only records it, in bulk.
        Once per bundle file: the general way's work is done once for the directory."""
        if not entries:
            return
        prefix = self._prefix
        cut, mkdirs = len(prefix), self.mkdirs
        here = entries[0].path[:-len(entries[0].name)]  # the source directory, with its "/"
        # ASCII paths are their own keys; a name starting with "." may be "." or "..": such
        # names, and sources outside the archive's own path, go the general way
        plain = dest_dir.isascii() and here.isascii() and "/." not in here and \
            here.startswith(prefix)
        for entry in entries:
            name, source = entry.name, entry.path
            key = f"{dest_dir}/{name}"
            regular = regular_stat(entry)
            if not plain or key in mkdirs or not name.isascii() or name[0] == ".":
                self.copy(source, key, regular, fresh=in_place)
            else:
                self._add_copy(key, source, source[cut:], dir_key, regular,
                               in_place and regular is not None)

    def _add_copy(self, dest: str, source: str, rel: str, parent: str,
                  regular: os.stat_result | None, fresh: bool) -> None:
        """A copy's _COPY row, all paths as keys; `regular`: a regular file source's lstat."""
        self._batch[dest] = source
        self._copies.append((self._next(), dest, source, rel, parent,
                             *((regular.st_mode, regular.st_size, regular.st_mtime)
                               if regular is not None else (None, None, None)), fresh))
        if len(self._copies) >= 1024:
            self.flush()

    def copied(self, dest: str) -> str | None:
        """The source copied to dest, if any."""
        key = store.key(dest)
        found = self._batch.get(key)
        if found is None:
            row = self.db.execute("SELECT source FROM instr WHERE type = 'copy' AND path = ?",
                                  (key,)).fetchone()
            found = None if row is None else str(row[0])
        return None if found is None else store.unkey(found)

    def copies_below(self, obj: str) -> Iterator[str]:
        """Destinations below obj, in plan order; safe to add instructions meanwhile."""
        self.flush()
        self.db.execute("DELETE FROM temp.matched")
        self.db.execute("INSERT INTO temp.matched SELECT path FROM instr WHERE type = 'copy' "
                        "AND path > ? AND path < ? ORDER BY seq", store.below(store.key(obj)))
        for (path,) in self.db.execute("SELECT path FROM temp.matched ORDER BY rowid"):
            yield store.unkey(path)

    def mkdir(self, dest: str, taken: bool = False) -> None:
        """`taken`: something that is not a directory is at dest (File.directory? is false,
        the agent plans a mkdir anyway, which will fail)."""
        key = os.path.normpath(dest)
        if taken:
            self.taken.add(key)
        source = self.copied(key)
        if source is not None:
            self.flush()  # an earlier conflict is reported first
            raise InstallError(MKDIR_OVER_FILE.format(key, source))
        if key not in self.mkdirs:
            self.mkdirs[key] = None
            self._check_utf8(key)
            self._dirs.append((self._next(), store.key(key)))

    def permit(self, target: str) -> None:
        try:
            self.db.execute("INSERT INTO permitted VALUES (?)", (store.key(target),))
        except sqlite3.IntegrityError:
            raise InstallError(PERMISSION_TWICE.format(target)) from None

    def unmark(self, dirs: set[str]) -> None:
        """No copy into these directories is fresh after all (see Installer.execute)."""
        self.db.executemany("UPDATE instr SET fresh = 0 WHERE fresh = 1 AND parent = ?",
                            [(store.key(d),) for d in dirs])

    def pages(self, member_prefix: str = "") -> Iterator[list[tuple[Any, ...]]]:
        """Each instruction, in order, a page at a time, with what the archive said of a copy's
        source member (members are named from the archive's root: `member_prefix` is what was
        stripped); see _ROWS."""
        self.flush()
        rows = self.db.execute(_ROWS, (store.key(member_prefix),))
        while page := rows.fetchmany(PAGE):
            yield page


def regular_stat(entry: os.DirEntry[str]) -> os.stat_result | None:
    """A regular file's lstat (kept for execute); None for anything else."""
    return entry.stat(follow_symlinks=False) if entry.is_file(follow_symlinks=False) else None


_TRAILING = (0xC0, 0xE0, 0xF0, 0xF8, 0xFC)  # a lead byte from here on has 1, 2, ... more


def ruby_json_error(text: str) -> str | None:
    """Ruby's JSON::GeneratorError for a string that is not UTF-8, as json 2.6 (Ruby 3.2,
    Amazon Linux 2023's) raises it (generator.c convert_UTF8_to_JSON): a character cut
    off by the end of the string, or an illegal sequence. None for valid UTF-8."""
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        size = 1 + sum(raw[i] >= b for b in _TRAILING)
        if i + size > len(raw):
            return "partial character in source, but hit end"
        if size > 1 or raw[i] >= 0x80:
            try:
                raw[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                return "source sequence is illegal/malformed utf-8"
        i += size
    return None
