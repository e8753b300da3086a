"""A copy-on-write view of this machine: reads fall through to the host, writes stay here.

Every path is an absolute host path. Writes go to `<root>/upper<path>`; deleting a host path
records a whiteout. Nothing here ever opens a host path for writing, follows a host symlink to
write, or removes anything outside `root`. What the view knows per path (written, recorded,
deleted, the owner the agent would set) lives in `<root>/sandbox.db` (agentkit.store), so memory
stays flat with the bundle's size and a later `verify --state-dir` sees the same machine.
Only directory-level facts are kept in memory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from typing import NamedTuple, Optional

from agentkit import store

MAX_LINKS = 40
HOST_CACHE = 4096  # host lstat results kept at once (the host does not change meanwhile)

NOTHING, WRITTEN, WRITTEN_DIR, RECORDED = 0, 1, 2, 3
# A node's record with the digest of its recorded bundle file, when known.
_SELECT = ("SELECT n.path, n.state, n.whiteout, n.ouid, n.ogid, n.src, n.mode, n.size, n.mtime, "
           "n.sha FROM node n ")
Row = tuple[str, int, int, Optional[int], Optional[int], Optional[str], Optional[int],
            Optional[int], Optional[float], Optional[str]]
PAGE = 512  # rows fetched or written at once when going through many
_NODE = "INSERT INTO node(path, parent, state, ouid, ogid, src, mode, size, mtime, sha) "
_UPSERT = (" ON CONFLICT(path) DO UPDATE "
           "SET state = excluded.state, ouid = COALESCE(excluded.ouid, ouid), "
           "ogid = COALESCE(excluded.ogid, ogid), src = excluded.src, mode = excluded.mode, "
           "size = excluded.size, mtime = excluded.mtime, sha = excluded.sha")
_PUT = _NODE + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" + _UPSERT


class Entry(NamedTuple):  # one per path of a bundle: a tuple is cheap to make
    """What is at a path, as the deployment would see it."""

    path: str
    type: str  # file, dir, symlink, other
    mode: int
    uid: int
    gid: int
    target: str | None
    where: str  # upper or host
    src: str | None = None  # a bundle file recorded here instead of copied
    sha: str | None = None  # its digest, when known


def _unkeyed(row: Row) -> Row:
    """A record with its path and source as names again (see store.key)."""
    if row[0].isascii() and (row[5] is None or row[5].isascii()):
        return row
    return (store.unkey(row[0]), *row[1:5], None if row[5] is None else store.unkey(row[5]),
            *row[6:])


def _parent(norm: str) -> str:
    """os.path.dirname of a normalised absolute path, without its generality (per file)."""
    cut = norm.rfind("/")
    return norm[:cut] if cut > 0 else "/"


def _kind(mode: int) -> str:
    return ("symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode)
            else "file" if stat.S_ISREG(mode) else "other")


class Sandbox:
    def __init__(self, root: str, host: str = "/") -> None:
        self.root = root
        self.upper = os.path.join(root, "upper")
        self.host = host
        os.makedirs(self.upper, exist_ok=True)
        self.db = store.connect(os.path.join(root, "sandbox.db"))
        self._pending: list[tuple[object, ...]] = []  # records of fresh files, written in bulk
        self._upper_dirs: set[str] = set()  # transparent parents of written paths
        self._hiding: set[str] = set()  # paths below which nothing of the host shows
        self._host_stats: dict[str, os.stat_result | None] = {}
        for (parent,) in self.db.execute("SELECT DISTINCT parent FROM node WHERE state > 0"):
            self._note_dir(store.unkey(parent))
        self._hiding = {store.unkey(p) for (p,) in
                        self.db.execute("SELECT path FROM node WHERE hides = 1")}

    def save(self) -> None:
        self._flush()
        store.commit(self.db)

    def _flush(self) -> None:
        if self._pending:
            self.db.executemany(_PUT, self._pending)
            self._pending.clear()

    def _sql(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Every statement on the records goes here: pending records are written first."""
        if self._pending:
            self._flush()
        return self.db.execute(sql, args)

    # --- the per-path record -------------------------------------------------------------------
    def _row(self, norm: str) -> Row | None:
        found: Row | None = self._sql(_SELECT + "WHERE n.path = ?", (store.key(norm),)
                                      ).fetchone()
        return None if found is None else _unkeyed(found)

    def _rows(self, where: str, *args: object) -> Iterator[Row]:
        """Rows in path order, a page at a time: the caller may write meanwhile."""
        last = ""
        while True:
            page = self._sql(f"{_SELECT} WHERE ({where}) AND n.path > ? "
                             f"ORDER BY n.path LIMIT {PAGE}", (*args, last)).fetchall()
            yield from map(_unkeyed, page)
            if len(page) < PAGE:
                return
            last = page[-1][0]

    def _put(self, norm: str, state: int, owner: tuple[int, int] | None = None,
             recorded: os.stat_result | None = None, src: str | None = None,
             sha: str | None = None, later: bool = False) -> None:
        st = recorded
        uid, gid = owner if owner else (None, None)
        values = (store.key(norm), store.key(_parent(norm)), state, uid, gid,
                  None if src is None else store.key(src),
                  *((st.st_mode, st.st_size, st.st_mtime) if st is not None else (None,) * 3),
                  sha)
        if later:
            self._pending.append(values)
            if len(self._pending) >= PAGE:
                self._flush()
        else:
            self._sql(_PUT, values)

    def _gone(self, norm: str, host_dir: bool | None) -> None:
        """Nothing of the deployment at norm any more; host_dir: the host has norm (a dir)."""
        whiteout = host_dir is not None
        self._sql(
            "INSERT INTO node(path, parent, whiteout, hides) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET state = 0, ouid = NULL, ogid = NULL, src = NULL, "
            "sha = NULL, whiteout = MAX(whiteout, excluded.whiteout), "
            "hides = MAX(hides, excluded.hides)",
            (store.key(norm), store.key(_parent(norm)), int(whiteout), int(bool(host_dir))))
        if host_dir:
            self._hiding.add(norm)

    def _hide_host_below(self, norm: str) -> None:
        """A non-directory written where the host has a directory hides its content."""
        host = self._host_stat(norm)
        if host is not None and stat.S_ISDIR(host.st_mode):
            self._sql("UPDATE node SET hides = 1 WHERE path = ?", (store.key(norm),))
            self._hiding.add(norm)

    def _note_dir(self, directory: str) -> None:
        while directory not in self._upper_dirs and directory != "/":
            self._upper_dirs.add(directory)
            directory = os.path.dirname(directory)

    # --- where a path lives ------------------------------------------------------------------
    def up(self, path: str) -> str:
        return self.upper + os.path.normpath(path)

    def _host(self, path: str) -> str:
        return os.path.join(self.host, os.path.normpath(path).lstrip("/"))

    def _host_stat(self, norm: str) -> os.stat_result | None:
        if norm in self._host_stats:
            return self._host_stats[norm]
        if len(self._host_stats) >= HOST_CACHE:
            self._host_stats.clear()
        try:
            found: os.stat_result | None = os.lstat(self._host(norm))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            found = None
        self._host_stats[norm] = found
        return found

    def _hidden(self, norm: str) -> bool:
        if not self._hiding:
            return False
        p = os.path.dirname(norm)
        while p != "/":
            if p in self._hiding:
                return True
            p = os.path.dirname(p)
        return False

    def _find(self, norm: str) -> tuple[os.stat_result, str, Row | None] | None:
        return self._resolve(norm, self._row(norm))

    def _resolve(self, norm: str, row: Row | None
                 ) -> tuple[os.stat_result, str, Row | None] | None:
        """What is at norm, given its record (None: no record)."""
        if row is not None:
            state = row[1]
            if state == RECORDED:
                uid, gid = row[3] or 0, row[4] or 0
                mode, size, mtime = row[6] or 0, row[7] or 0, row[8] or 0.0
                fake = os.stat_result((mode, 0, 0, 1, uid, gid, size, mtime, mtime, mtime))
                return fake, "upper", row
            if state:
                try:
                    return os.lstat(self.up(norm)), "upper", row
                except FileNotFoundError:
                    return None
            if row[2]:
                return None
        if self._hidden(norm):
            return None
        host = self._host_stat(norm)
        if host is not None:
            return host, "host", row
        if norm in self._upper_dirs:  # a parent of written paths, not on the host
            return os.lstat(self.up(norm)), "upper", row
        return None

    def lstat(self, path: str) -> tuple[os.stat_result, str] | None:
        found = self._find(os.path.normpath(path))
        return (found[0], found[1]) if found else None

    def lexists(self, path: str) -> bool:
        return self._find(os.path.normpath(path)) is not None

    def readlink(self, path: str) -> str:
        found = self.lstat(path)
        if found is None or not stat.S_ISLNK(found[0].st_mode):
            raise OSError(errno.EINVAL, "not a symlink", path)
        return os.readlink(self.up(path) if found[1] == "upper" else self._host(path))

    def resolve(self, path: str) -> str | None:
        """Follow symlinks through the view (as File.exist? does); None if it dangles."""
        parts = [p for p in os.path.normpath(path).split("/") if p]
        current = "/"
        hops = 0
        while parts:
            candidate = os.path.join(current, parts.pop(0))
            found = self.lstat(candidate)
            if found is None:
                return None
            if stat.S_ISLNK(found[0].st_mode):
                hops += 1
                if hops > MAX_LINKS:
                    return None
                target = self.readlink(candidate)
                base = "/" if target.startswith("/") else current
                parts = [p for p in os.path.normpath(os.path.join(base, target)).split("/")
                         if p] + parts
                current = "/"
                continue
            current = candidate
        return current

    def exists(self, path: str) -> bool:
        return self.resolve(path) is not None

    def isdir(self, path: str) -> bool:
        real = self.resolve(path)
        found = self.lstat(real) if real else None
        return bool(found and stat.S_ISDIR(found[0].st_mode))

    def islink(self, path: str) -> bool:
        found = self.lstat(path)
        return bool(found and stat.S_ISLNK(found[0].st_mode))

    def listdir(self, path: str) -> list[str]:
        return [e.path.rsplit("/", 1)[1] for e in self.scan(path)]

    def scan(self, path: str) -> list[Entry]:
        """The entries of a directory in the view, sorted by name."""
        norm = os.path.normpath(path)
        found = self._find(norm)
        if found is None:
            return []
        rows = {r[0].rsplit("/", 1)[1]: r for r in map(_unkeyed, self._sql(
            _SELECT + "WHERE n.parent = ?", (store.key(norm),)))}
        names = {name for name, r in rows.items() if r[1] == RECORDED}
        up = self.up(norm)
        if os.path.isdir(up) and not os.path.islink(up):
            names.update(os.listdir(up))
        host = self._host_stat(norm)
        if host is not None and stat.S_ISDIR(host.st_mode) and \
                not self._hidden(os.path.join(norm, "x")):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, PermissionError):
                names.update(os.listdir(self._host(norm)))
        out = []
        for name in sorted(names):
            row = rows.get(name)
            if row is not None and row[1] == RECORDED:  # most of a bundle: the record says all
                out.append(_recorded(row))
                continue
            child = os.path.join(norm, name)
            entry = self._entry(child, self._resolve(child, row))
            if entry is not None:
                out.append(entry)
        return out

    # --- writes (all into the upper layer) ---------------------------------------------------
    def _prepare_parent(self, norm: str) -> None:
        self._ensure_dir(_parent(norm))

    def _ensure_dir(self, directory: str) -> None:
        """The directory exists in the upper layer, for something to be written in it."""
        if directory not in self._upper_dirs:
            self.mirror_dirs(directory)
            self._note_dir(directory)

    def mirror_dirs(self, path: str, layer: str | None = None) -> None:
        """Create the directories of `path` in a layer (default: our upper layer) with the
        mode and owner the view shows, so a layer built from it hides no attributes."""
        root = self.upper if layer is None else layer
        current = "/"
        for part in [p for p in path.split("/") if p]:
            current = os.path.join(current, part)
            target = root + current
            try:
                st = os.lstat(target)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                # a link the deployment made: the kernel would follow it out of the layer.
                # Callers resolve paths through the view first; this never writes through.
                raise OSError(errno.ELOOP, "verify does not write through a link in its "
                              "sandbox", current)
            if st is not None and stat.S_ISDIR(st.st_mode):
                continue
            entry = self.entry(current)
            os.mkdir(target)
            if entry is not None and entry.type == "dir":
                os.chmod(target, entry.mode)
                os.lchown(target, entry.uid, entry.gid)

    def mkdir(self, path: str, mode: int = 0o755, new: bool = False) -> None:
        """`new`: most likely nothing is at path in the upper layer yet (a directory in one
        the deployment just made): try that first."""
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        up = self.up(norm)
        if not (new and _made_new(up, mode)):
            if os.path.isdir(up) and not os.path.islink(up):  # was only a transparent parent
                os.chmod(up, mode)
            else:
                if os.path.lexists(up):
                    os.unlink(up)
                os.mkdir(up, mode)
        self._upper_dirs.add(norm)  # its parents are there: what is written in it needs no more
        self._put(norm, WRITTEN_DIR, later=True)

    def write_file(self, path: str, src: str, *, mode: int, mtime: float,
                   owner: tuple[int, int] | None, share: bool = False,
                   src_stat: os.stat_result | None = None, sha: str | None = None) -> None:
        """Copy `src` to `path`. With `share`, `src` is a bundle file that stays put: a file
        with its bytes, mode and time is only recorded (chmod or a hook makes a real copy).
        `sha`: the caller knows src's digest. (Into a directory the deployment just made:
        record_new.)"""
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        dst = self.up(norm)
        if os.path.lexists(dst) and not os.path.isdir(dst):
            os.unlink(dst)
        st = src_stat if src_stat is not None else os.lstat(src)
        if share and stat.S_IMODE(st.st_mode) == mode and st.st_mtime == mtime:
            self._put(norm, RECORDED, owner, st, src, sha)
        else:
            shutil.copyfile(src, dst, follow_symlinks=False)
            os.chmod(dst, mode)
            os.utime(dst, (mtime, mtime))
            self._put(norm, WRITTEN, owner)
        self._hide_host_below(norm)

    def record_new(self, norm: str, src: str, st: os.stat_result,
                   owner: tuple[int, int] | None, sha: str | None) -> None:
        """write_file of a bundle file (`st`: its lstat) to a normalised path in a directory
        this deployment just made: nothing is there, and the copy has src's bytes, mode and
        time, so it is only recorded. The usual case, once per file of a bundle."""
        self._prepare_parent(norm)
        self._put(norm, RECORDED, owner, st, src, sha, later=True)

    def record_all(self, query: str, args: tuple[object, ...]) -> None:
        """record_new for every row of `query` over the store: (path, parent, uid, gid, src,
        mode, size, mtime, sha), paths as keys. One statement for thousands of bundle files."""
        for (parent,) in self._sql(f"SELECT DISTINCT parent FROM ({query})", args).fetchall():
            self._ensure_dir(store.unkey(parent))
        self._sql(f"{_NODE}SELECT path, parent, {RECORDED}, uid, gid, src, mode, size, mtime, "
                  f"sha FROM ({query}) WHERE true{_UPSERT}", args)

    def symlink(self, target: str, path: str) -> None:
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        os.symlink(target, self.up(norm))
        self._put(norm, WRITTEN)
        self._hide_host_below(norm)

    def chmod(self, path: str, mode: int) -> None:
        self._materialize(path)
        self._copy_up(path)
        up = self.up(path)
        st = os.lstat(up)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:  # shared with the archive: copy it
            tmp = up + ".agentkit-copy"
            shutil.copy2(up, tmp)
            os.replace(tmp, up)
        os.chmod(up, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._copy_up(path)
        self._sql("UPDATE node SET ouid = ?, ogid = ? WHERE path = ?",
                  (uid, gid, store.key(os.path.normpath(path))))

    def _materialize(self, path: str) -> None:
        """Give a recorded file a real copy in the upper layer (before it is changed)."""
        norm = os.path.normpath(path)
        row = self._row(norm)
        if row is None or row[1] != RECORDED or row[5] is None:
            return
        shutil.copy2(row[5], self.up(norm), follow_symlinks=False)
        if row[9] is not None:  # same bytes: the digest is known
            store.add_digest(self.db, os.lstat(self.up(norm)), row[9])
        self._sql("UPDATE node SET state = 1, src = NULL, sha = NULL WHERE path = ?",
                  (store.key(norm),))

    def materialize_all(self) -> None:
        """Hard-link every recorded file into the upper layer (the hook sandbox copies
        layers, never writes them)."""
        known: list[tuple[int, int, int, int, str]] = []
        for row in self._rows("n.state = 3"):
            self._prepare_parent(row[0])
            os.link(str(row[5]), self.up(row[0]))
            if row[9] is not None:  # the link's digest is the bundle file's
                st = os.lstat(self.up(row[0]))
                known.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, row[9]))
        store.add_digests(self.db, known)
        self._sql("UPDATE node SET state = 1, src = NULL, sha = NULL WHERE state = 3")

    def _copy_up(self, path: str) -> None:
        norm = os.path.normpath(path)
        found = self._find(norm)
        if found is None or (found[2] is not None and found[2][1] != NOTHING):
            return
        st = found[0]
        self._prepare_parent(norm)
        host = self._host(norm)
        up = self.up(norm)
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(up, exist_ok=True)
            os.chmod(up, stat.S_IMODE(st.st_mode))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(host), up)
        else:
            shutil.copyfile(host, up, follow_symlinks=False)
            os.chmod(up, stat.S_IMODE(st.st_mode))
        self._put(norm, WRITTEN_DIR if stat.S_ISDIR(st.st_mode) else WRITTEN,
                  (st.st_uid, st.st_gid))

    def _host_kind(self, norm: str) -> bool | None:
        """None: not on the host; else whether it is a directory there. Not cached: with
        `--hooks host` the host itself changes between events."""
        try:
            st = os.lstat(self._host(norm))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        return stat.S_ISDIR(st.st_mode)

    def remove(self, path: str) -> None:
        """rm of a file or link (never follows it)."""
        norm = os.path.normpath(path)
        up = self.up(norm)
        if os.path.lexists(up):
            os.unlink(up)
        self._gone(norm, self._host_kind(norm))

    def rmdir(self, path: str) -> bool:
        """rmdir: only an empty directory; returns whether it was removed."""
        if self.scan(path):
            return False
        norm = os.path.normpath(path)
        up = self.up(norm)
        if os.path.isdir(up) and not os.path.islink(up):
            shutil.rmtree(up)  # only transparent parents can be left in it
            below = norm + "/"
            self._upper_dirs = {p for p in self._upper_dirs
                                if p != norm and not p.startswith(below)}
        self._gone(norm, self._host_kind(norm))
        return True

    # --- reading results ---------------------------------------------------------------------
    def entry(self, path: str) -> Entry | None:
        norm = os.path.normpath(path)
        return self._entry(norm, self._find(norm))

    def _entry(self, norm: str, found: tuple[os.stat_result, str, Row | None] | None
               ) -> Entry | None:
        if found is None:
            return None
        st, where, row = found
        kind = _kind(st.st_mode)
        uid, gid = st.st_uid, st.st_gid
        if row is not None and row[3] is not None:
            uid, gid = row[3], row[4] if row[4] is not None else gid
        target = None
        if kind == "symlink":
            target = os.readlink(self.up(norm) if where == "upper" else self._host(norm))
        recorded = row is not None and row[1] == RECORDED
        return Entry(norm, kind, stat.S_IMODE(st.st_mode), uid, gid, target, where,
                     row[5] if recorded and row else None, row[9] if recorded and row else None)

    def sha_of(self, entry: Entry) -> str | None:
        if entry.type != "file":
            return None
        if entry.sha is not None:
            return entry.sha
        real = entry.src or (self.up(entry.path) if entry.where == "upper"
                             else self._host(entry.path))
        return self.digest(real, os.lstat(real))

    def digest(self, real: str, st: os.stat_result) -> str:
        """sha256 of a real file, computed once per inode and version."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        row = self._sql("SELECT sha FROM digest WHERE dev = ? AND ino = ? AND size = ? "
                              "AND mtime_ns = ?", key).fetchone()
        if row is not None:
            return str(row[0])
        digest = hashlib.sha256()
        with open(real, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        store.add_digest(self.db, st, digest.hexdigest())
        return digest.hexdigest()

    def walk(self, path: str) -> Iterator[Entry]:
        """Every entry at and below `path`, without following symlinks, sorted by path as a
        string (so that several walks merge into one sorted list, and "a-b" comes before
        "a/x": a directory's content is placed where "name/" sorts among its siblings)."""
        top = self.entry(path)
        if top is None:
            return
        yield top
        if top.type == "dir":
            yield from self._walk_below(top.path)

    def _walk_below(self, path: str) -> Iterator[Entry]:
        items: list[tuple[str, Entry | None]] = []
        for entry in self.scan(path):
            items.append((entry.path, entry))
            if entry.type == "dir":
                items.append((entry.path + "/", None))  # stands for its content
        items.sort(key=lambda item: item[0])
        for key, found in items:
            if found is not None:
                yield found
            else:
                yield from self._walk_below(key[:-1])

    def whiteouts(self) -> Iterator[str]:
        """Host paths deleted in this view, sorted."""
        return (row[0] for row in self._rows("n.whiteout = 1"))

    def recorded_parents(self) -> list[tuple[str, int]]:
        """The directories holding recorded bundle files, with how many each."""
        return [(store.unkey(parent), count) for parent, count in self._sql(
            f"SELECT parent, COUNT(*) FROM node WHERE state = {RECORDED} GROUP BY parent")]

    def touched(self, skip_recorded_in: tuple[str, ...] = ()
                ) -> Iterator[tuple[str, Entry | None]]:
        """Every path written, deleted or chowned in this sandbox (host paths) with what is
        there now, sorted; without the recorded bundle files in `skip_recorded_in`."""
        where = "n.state > 0 OR n.whiteout = 1 OR n.ouid IS NOT NULL"
        if skip_recorded_in:
            self._sql("CREATE TEMP TABLE IF NOT EXISTS skipped(parent TEXT PRIMARY KEY)")
            self._sql("DELETE FROM temp.skipped")
            self.db.executemany("INSERT OR IGNORE INTO temp.skipped VALUES (?)",
                                [(store.key(p),) for p in skip_recorded_in])
            where = (f"({where}) AND NOT (n.state = {RECORDED} AND "
                     "n.parent IN (SELECT parent FROM temp.skipped))")
        for row in self._rows(where):
            if row[1] == RECORDED:  # most of a bundle: the record says it all
                yield row[0], _recorded(row)
            else:
                yield row[0], self._entry(row[0], self._resolve(row[0], row))


def _made_new(path: str, mode: int) -> bool:
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return False
    return True


def _recorded(row: Row) -> Entry:
    """The entry of a bundle file recorded at a path (what _entry makes of its record)."""
    mode = row[6] or 0
    return Entry(row[0], _kind(mode), stat.S_IMODE(mode), row[3] or 0, row[4] or 0, None,
                 "upper", row[5], row[9])
