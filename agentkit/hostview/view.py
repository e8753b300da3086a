"""A copy-on-write view of this machine: reads fall through to the host, writes stay here.

Every path is an absolute host path. Writes go to `<root>/upper<path>`; deleting a host path
records a whiteout. Nothing here ever opens a host path for writing, follows a host symlink to
write, or removes anything outside `root`. What the view knows per path (written, recorded,
deleted, its mode and the owner the agent would set) is a Record (records.py) in
`<root>/sandbox.db`, so memory stays flat with the bundle's size and a later
`verify --state-dir` sees the same machine. Modes and owners are the records', never the
files' on disk: those stay ours to read and write, whoever runs verify.

Over 500 lines: one class, the view, whose read, write and delete paths must agree on
every record; its bookkeeping is already apart (records.py, store.py).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from typing import Callable, NamedTuple

from agentkit import digests, fstree
from agentkit.hostview import store
from agentkit.hostview.records import (
    AGENT_OWNER,
    NOTHING,
    RECORDED,
    TOUCHED,
    WRITTEN,
    WRITTEN_DIR,
    Record,
    Records,
    parent_of,
)

MAX_LINKS = 40
HOST_CACHE = 4096  # host lstat results kept at once (the host does not change meanwhile)
OURS_DIR, OURS_FILE = 0o700, 0o600  # bits our own copies keep, whatever mode they stand for


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


class Found(NamedTuple):
    """What is at a path: its attributes as the view shows them, where they live, its
    record (if any)."""

    st: os.stat_result
    where: str  # upper or host
    record: Record | None


_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)  # a disk's own errors


def kind(mode: int) -> str:
    """The entry type the view and its reports name: symlink, dir, file or other."""
    return ("symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode)
            else "file" if stat.S_ISREG(mode) else "other")


def _shown(st: os.stat_result, rec: Record) -> os.stat_result:
    """A written path's lstat with the mode its record gives (our copy keeps u+rw)."""
    if rec.mode is None or rec.mode == st.st_mode:
        return st
    return os.stat_result((rec.mode, *tuple(st)[1:]))


def _ours(path: str, mode: int, directory: bool) -> None:
    """chmod our copy of something shown with `mode`, keeping it ours to use."""
    os.chmod(path, mode | (OURS_DIR if directory else OURS_FILE))


UNHASHED = ""  # the digest recorded for a file known not to have one (write_placeholder)


class HostView:
    def __init__(self, root: str, host: str = "/") -> None:
        self.root = root
        self.upper = os.path.join(root, "upper")
        self.host = host
        os.makedirs(self.upper, exist_ok=True)
        self.db = store.connect(os.path.join(root, "sandbox.db"))
        self.records = Records(self.db)
        self._upper_dirs: set[str] = set()  # transparent parents of written paths
        self._host_stats: dict[str, os.stat_result | None] = {}
        self.unseen: set[str] = set()  # host directories this user may not look into
        for parent in self.records.written_parents():
            self._note_dir(parent)
        self._hiding = self.records.hiding()  # paths below which nothing of the host shows

    def save(self) -> None:
        self.records.flush()
        store.commit(self.db)

    def close(self) -> None:
        self.records.flush()
        self.db.commit()
        self.db.close()

    def _note_dir(self, directory: str) -> None:
        while directory not in self._upper_dirs and directory != "/":
            self._upper_dirs.add(directory)
            directory = os.path.dirname(directory)

    # --- where a path lives ------------------------------------------------------------------
    def up(self, path: str) -> str:
        return self.upper + os.path.normpath(path)

    def _host(self, path: str) -> str:
        return os.path.join(self.host, os.path.normpath(path).lstrip("/"))

    def host_path(self, path: str) -> str:
        """Where a path of the instance is on this machine: itself, or inside the image."""
        return self._host(path)

    def _host_stat(self, norm: str) -> os.stat_result | None:
        if norm in self._host_stats:
            return self._host_stats[norm]
        if len(self._host_stats) >= HOST_CACHE:
            self._host_stats.clear()
        try:
            found: os.stat_result | None = os.lstat(self._host(norm))
        except (FileNotFoundError, NotADirectoryError):
            found = None
        except PermissionError:  # a directory above it is closed to this user
            found = None
            self._unseen(parent_of(norm))
        self._host_stats[norm] = found
        return found

    def _unseen(self, directory: str) -> None:
        """Remember the outermost directory this user could not look into."""
        while directory != "/" and not os.access(self._host(parent_of(directory)), os.X_OK):
            directory = parent_of(directory)
        self.unseen.add(directory)

    def _hidden(self, norm: str) -> bool:
        if not self._hiding:
            return False
        p = os.path.dirname(norm)
        while p != "/":
            if p in self._hiding:
                return True
            p = os.path.dirname(p)
        return False

    def _find(self, norm: str) -> Found | None:
        return self._resolve(norm, self.records.get(norm))

    def _resolve(self, norm: str, rec: Record | None) -> Found | None:
        """What is at norm, given its record (None: no record)."""
        if rec is not None:
            if rec.state == RECORDED:
                mode, size, mtime = rec.mode or 0, rec.size or 0, rec.mtime or 0.0
                fake = os.stat_result((mode, 0, 0, 1, rec.uid or 0, rec.gid or 0, size, mtime,
                                       mtime, mtime))
                return Found(fake, "upper", rec)
            if rec.state:
                try:
                    return Found(_shown(os.lstat(self.up(norm)), rec), "upper", rec)
                except FileNotFoundError:
                    return None
            if rec.whiteout:
                return None
        if self._hidden(norm):
            return None
        host = self._host_stat(norm)
        if host is not None:
            return Found(host, "host", rec)
        if norm in self._upper_dirs:  # a parent of written paths, not on the host
            return Found(os.lstat(self.up(norm)), "upper", rec)
        return None

    def lstat(self, path: str) -> tuple[os.stat_result, str] | None:
        found = self._find(os.path.normpath(path))
        return (found.st, found.where) if found else None

    def failed_here(self, exc: OSError) -> bool:
        """Whether an error is of the view's own storage (verify's disk, a file of its own
        it may not write), rather than of what it reads: a disk's errors whatever file they
        name, any error naming a file of the view."""
        if exc.errno in _DISK:
            return True
        name = exc.filename if isinstance(exc.filename, str) else ""
        return name == self.root or name.startswith(self.root.rstrip("/") + "/")

    def lexists(self, path: str) -> bool:
        return self._find(os.path.normpath(path)) is not None

    def readlink(self, path: str) -> str:
        found = self.lstat(path)
        if found is None or not stat.S_ISLNK(found[0].st_mode):
            raise OSError(errno.EINVAL, "not a symlink", path)
        return os.readlink(self.up(path) if found[1] == "upper" else self._host(path))

    def resolve(self, path: str) -> str | None:
        """Follow symlinks through the view (as File.exist? does); None if it dangles or
        loops (more than MAX_LINKS links, as the kernel's ELOOP)."""
        parts = [p for p in os.path.normpath(path).split("/") if p]
        parts.reverse()  # popped from the end: the next component is last
        current = "/"
        hops = 0
        while parts:
            candidate = os.path.join(current, parts.pop())
            found = self.lstat(candidate)
            if found is None:
                return None
            if stat.S_ISLNK(found[0].st_mode):
                hops += 1
                if hops > MAX_LINKS:
                    return None
                target = self.readlink(candidate)
                base = "/" if target.startswith("/") else current
                more = [p for p in os.path.normpath(os.path.join(base, target)).split("/") if p]
                parts.extend(reversed(more))
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
        if self._find(norm) is None:
            return []
        recs = {r.path.rsplit("/", 1)[1]: r for r in self.records.children(norm)}
        names = {name for name, r in recs.items() if r.state == RECORDED}
        up = self.up(norm)
        if os.path.isdir(up) and not os.path.islink(up):
            names.update(os.listdir(up))
        host = self._host_stat(norm)
        if host is not None and stat.S_ISDIR(host.st_mode) and \
                not self._hidden(os.path.join(norm, "x")):
            try:
                names.update(os.listdir(self._host(norm)))
            except PermissionError:
                self.unseen.add(norm)
            except (FileNotFoundError, NotADirectoryError):
                pass
        out = []
        for name in sorted(names):
            rec = recs.get(name)
            if rec is not None and rec.state == RECORDED:  # most of a bundle: the record says all
                out.append(_recorded(rec))
                continue
            child = os.path.join(norm, name)
            entry = self._entry(child, self._resolve(child, rec))
            if entry is not None:
                out.append(entry)
        return out

    # --- writes (all into the upper layer) ---------------------------------------------------
    def _prepare_parent(self, norm: str) -> None:
        self._ensure_dir(parent_of(norm))

    def _ensure_dir(self, directory: str) -> None:
        """The directory exists in the upper layer, for something to be written in it."""
        if directory not in self._upper_dirs:
            self._mirror_dirs(directory)
            self._note_dir(directory)

    def _mirror_dirs(self, path: str) -> None:
        """Create the directories of `path` in the upper layer. They are transparent: the
        view shows what the host or a record says of them, not their own attributes."""
        current = self.upper
        for part in [p for p in path.split("/") if p]:
            current = f"{current}/{part}"
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, OURS_DIR)
                continue
            if stat.S_ISLNK(st.st_mode):
                # a link the deployment made: the kernel would follow it out of the layer.
                # Callers resolve paths through the view first; this never writes through.
                raise OSError(errno.ELOOP, "verify does not write through a link in its "
                              "sandbox", current[len(self.upper):])

    def mkdir(self, path: str, mode: int = 0o755, new: bool = False,
              owner: tuple[int, int] = AGENT_OWNER) -> None:
        """`new`: most likely nothing is at path in the upper layer yet (a directory in one
        the deployment just made): try that first."""
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        up = self.up(norm)
        if not (new and _made_new(up)) and not (os.path.isdir(up) and not os.path.islink(up)):
            if os.path.lexists(up):  # (a directory there was a transparent parent so far)
                os.unlink(up)
            os.mkdir(up, OURS_DIR)
        self._upper_dirs.add(norm)  # its parents are there: what is written in it needs no more
        self.records.put(norm, WRITTEN_DIR, owner, later=True, mode=stat.S_IFDIR | mode)

    def write_file(self, path: str, src: str, *, mode: int, mtime: float,
                   owner: tuple[int, int] | None, share: bool = False,
                   src_stat: os.stat_result | None = None, sha: str | None = None) -> None:
        """Copy `src` to `path`. With `share`, `src` is a bundle file that stays put: a file
        with its bytes, mode and time is only recorded (chmod or a hook makes a real copy).
        `sha`: the caller knows src's digest. (Into a directory the deployment just made:
        record_new.)"""
        norm, dst = self._fresh_file(path)
        st = src_stat if src_stat is not None else os.lstat(src)
        if share and stat.S_IMODE(st.st_mode) == mode and st.st_mtime == mtime:
            self.records.put(norm, RECORDED, owner, st, src, sha)
            self._hide_host_below(norm)
        else:
            shutil.copyfile(src, dst, follow_symlinks=False)
            self._written(norm, mode, mtime, owner)

    def _fresh_file(self, path: str) -> tuple[str, str]:
        """(normalised path, its place in the upper layer, cleared for a new file)."""
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        dst = self.up(norm)
        if os.path.lexists(dst) and not os.path.isdir(dst):
            os.unlink(dst)
        return norm, dst

    def _written(self, norm: str, mode: int, mtime: float, owner: tuple[int, int] | None) -> None:
        """Record a regular file just written at norm's place in the upper layer."""
        dst = self.up(norm)
        _ours(dst, mode, False)
        os.utime(dst, (mtime, mtime))
        self.records.put(norm, WRITTEN, owner or AGENT_OWNER, mode=stat.S_IFREG | mode)
        self._hide_host_below(norm)

    def write_fd(self, path: str, fd: int, *, mode: int, mtime: float,
                 owner: tuple[int, int]) -> None:
        """A file with the bytes of an open descriptor (a file a hook wrote in the box)."""
        norm, dst = self._fresh_file(path)
        os.lseek(fd, 0, os.SEEK_SET)
        with open(dst, "wb") as out:
            while chunk := os.read(fd, 1 << 20):
                out.write(chunk)
        self._written(norm, mode, mtime, owner)

    def write_placeholder(self, path: str, size: int, sha: str | None, *, mode: int,
                          mtime: float, owner: tuple[int, int]) -> None:
        """A file known only by its size and digest (too big to bring out of the box): a
        sparse file of that size, with the digest recorded for the report."""
        norm, dst = self._fresh_file(path)
        with open(dst, "wb") as out:
            out.truncate(size)
        self._written(norm, mode, mtime, owner)
        # without a digest (past the box's hashing budget) it is never hashed here either:
        # its bytes are the sparse stand-in's, and there may be many gigabytes of them
        store.add_digest(self.db, os.lstat(dst), UNHASHED if sha is None else sha)

    def _hide_host_below(self, norm: str) -> None:
        """A non-directory written where the host has a directory hides its content."""
        host = self._host_stat(norm)
        if host is not None and stat.S_ISDIR(host.st_mode):
            self.records.hide_below(norm)
            self._hiding.add(norm)

    def record_new(self, norm: str, src: str, st: os.stat_result,
                   owner: tuple[int, int] | None, sha: str | None) -> None:
        """write_file of a bundle file (`st`: its lstat) to a normalised path in a directory
        this deployment just made: nothing is there, and the copy has src's bytes, mode and
        time, so it is only recorded. The usual case, once per file of a bundle."""
        self._prepare_parent(norm)
        self.records.put(norm, RECORDED, owner, st, src, sha, later=True)

    def record_all(self, query: str, args: tuple[object, ...]) -> None:
        """record_new for every row of `query` over the store: (path, parent, uid, gid, src,
        mode, size, mtime, sha), paths as keys. One statement for thousands of bundle files."""
        for parent in self.records.parents_of_query(query, args):
            self._ensure_dir(parent)
        self.records.put_query(query, args)

    def symlink(self, target: str, path: str, owner: tuple[int, int] = AGENT_OWNER) -> None:
        norm = os.path.normpath(path)
        self._prepare_parent(norm)
        os.symlink(target, self.up(norm))
        self.records.put(norm, WRITTEN, owner)
        self._hide_host_below(norm)

    def chmod(self, path: str, mode: int) -> None:
        norm = os.path.normpath(path)
        self._materialize(norm)
        self._copy_up(norm)
        up = self.up(norm)
        st = os.lstat(up)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:  # shared with the archive: copy it
            tmp = up + ".agentkit-copy"
            shutil.copy2(up, tmp)
            os.replace(tmp, up)
        _ours(up, mode, stat.S_ISDIR(st.st_mode))
        self.records.set_mode(norm, stat.S_IFMT(st.st_mode) | mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        norm = os.path.normpath(path)
        self._copy_up(norm)
        self.records.set_owner(norm, uid, gid)

    def _materialize(self, norm: str) -> None:
        """Give a recorded file a real copy in the upper layer (before it is changed)."""
        rec = self.records.get(norm)
        if rec is None or rec.state != RECORDED or rec.src is None:
            return
        shutil.copy2(rec.src, self.up(norm), follow_symlinks=False)
        _ours(self.up(norm), stat.S_IMODE(rec.mode or 0), False)
        if rec.sha is not None:  # same bytes: the digest is known
            store.add_digest(self.db, os.lstat(self.up(norm)), rec.sha)
        self.records.unrecord(norm)

    def _copy_up(self, norm: str) -> None:
        """Make a host path a written one, with the host's attributes in its record."""
        found = self._find(norm)
        if found is None or (found.record is not None and found.record.state != NOTHING):
            return
        st = found.st
        self._prepare_parent(norm)
        host = self._host(norm)
        up = self.up(norm)
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(up, OURS_DIR, exist_ok=True)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(host), up)
        else:
            shutil.copyfile(host, up, follow_symlinks=False)
            _ours(up, stat.S_IMODE(st.st_mode), False)
        self.records.put(norm, WRITTEN_DIR if stat.S_ISDIR(st.st_mode) else WRITTEN,
                         (st.st_uid, st.st_gid), mode=st.st_mode)

    def _hostkind(self, norm: str) -> bool | None:
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
        self.records.gone(norm, self._hostkind(norm))

    def remove_tree(self, path: str) -> None:
        """rm -rf (never following a link): what the deployment put below `path` goes, and
        one record hides whatever the host has there (the host's files are not each marked:
        a hook's `rm -rf /usr` is one record, not 400,000)."""
        norm = os.path.normpath(path)
        self.records.delete_below(norm)
        up = self.up(norm)
        if os.path.isdir(up) and not os.path.islink(up):
            fstree.remove_tree(up)
        elif os.path.lexists(up):
            os.unlink(up)
        below = norm.rstrip("/") + "/"
        self._upper_dirs = {p for p in self._upper_dirs if p != norm and not p.startswith(below)}
        self._hiding = {p for p in self._hiding if not p.startswith(below)}
        self._host_stats.clear()
        host_dir = self._hostkind(norm)
        self.records.gone(norm, host_dir)
        if host_dir:
            self._hiding.add(norm)

    def rmdir(self, path: str) -> bool:
        """rmdir: only an empty directory; returns whether it was removed."""
        if self.scan(path):
            return False
        norm = os.path.normpath(path)
        up = self.up(norm)
        if os.path.isdir(up) and not os.path.islink(up):
            fstree.remove_tree(up)  # only transparent parents can be left in it
            below = norm + "/"
            self._upper_dirs = {p for p in self._upper_dirs
                                if p != norm and not p.startswith(below)}
        host_dir = self._hostkind(norm)
        self.records.gone(norm, host_dir)
        if host_dir:
            self._hiding.add(norm)
        return True

    # --- reading results ---------------------------------------------------------------------
    def entry(self, path: str) -> Entry | None:
        norm = os.path.normpath(path)
        return self._entry(norm, self._find(norm))

    def _entry(self, norm: str, found: Found | None) -> Entry | None:
        if found is None:
            return None
        st, where, rec = found
        type_ = kind(st.st_mode)
        uid, gid = st.st_uid, st.st_gid
        if rec is not None and rec.state:  # ours on disk: the record knows the owner
            uid, gid = AGENT_OWNER
        if rec is not None and rec.uid is not None:
            uid, gid = rec.uid, rec.gid if rec.gid is not None else gid
        target = None
        if type_ == "symlink":
            target = os.readlink(self.up(norm) if where == "upper" else self._host(norm))
        recorded = rec is not None and rec.state == RECORDED
        return Entry(norm, type_, stat.S_IMODE(st.st_mode), uid, gid, target, where,
                     rec.src if recorded and rec else None, rec.sha if recorded and rec else None)

    def sha_of(self, entry: Entry) -> str | None:
        if entry.type != "file":
            return None
        if entry.sha is not None:
            return entry.sha
        real = entry.src or (self.up(entry.path) if entry.where == "upper"
                             else self._host(entry.path))
        try:
            return self.digest(real, os.lstat(real)) or None  # (UNHASHED: no digest)
        except PermissionError:  # a host file this user may not read
            return None

    def digest(self, real: str, st: os.stat_result) -> str:
        """sha256 of a real file, computed once per inode and version."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self.records.digest(key)
        if known is not None:
            return known
        found = digests.file_sha256(real)
        store.add_digest(self.db, st, found)
        return found

    def walk(self, path: str, into: Callable[[str], bool] | None = None) -> Iterator[Entry]:
        """Every entry at and below `path`, without following symlinks, sorted by path as a
        string (so that several walks merge into one sorted list, and "a-b" comes before
        "a/x": a directory's content is placed where "name/" sorts among its siblings).
        Below `path`, only the directories `into` accepts are entered. Iterative: a tree
        thousands of levels deep walks as a flat one."""
        top = self.entry(path)
        if top is None:
            return
        yield top
        if top.type != "dir":
            return
        stack = [iter(self._sorted_below(top.path))]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, Entry):
                yield item
            elif into is None or into(item):  # a directory's content, where "name/" sorts
                stack.append(iter(self._sorted_below(item)))

    def _sorted_below(self, path: str) -> list[Entry | str]:
        items: list[tuple[str, Entry | str]] = []
        for entry in self.scan(path):
            items.append((entry.path, entry))
            if entry.type == "dir":
                items.append((entry.path + "/", entry.path))  # stands for its content
        items.sort(key=lambda item: item[0])
        return [found for _, found in items]

    def whiteouts(self) -> Iterator[str]:
        """Host paths deleted in this view, sorted."""
        return (rec.path for rec in self.records.page("n.whiteout = 1"))

    def recorded_parents(self) -> list[tuple[str, int]]:
        """The directories holding recorded bundle files, with how many each."""
        return self.records.recorded_parents()

    def touched(self, skip_recorded_in: tuple[str, ...] = ()
                ) -> Iterator[tuple[str, Entry | None]]:
        """Every path written, deleted or chowned in this sandbox (host paths) with what is
        there now, sorted; without the recorded bundle files in `skip_recorded_in`."""
        where = TOUCHED
        if skip_recorded_in:
            self.records.skip_parents(skip_recorded_in)
            where = (f"({where}) AND NOT (n.state = {RECORDED} AND "
                     "n.parent IN (SELECT parent FROM temp.skipped))")
        for rec in self.records.page(where):
            yield rec.path, self.entry_of(rec)

    def entry_of(self, rec: Record) -> Entry | None:
        """What is at a record's path now."""
        if rec.state == RECORDED:  # most of a bundle: the record says it all
            return _recorded(rec)
        return self._entry(rec.path, self._resolve(rec.path, rec))


def _made_new(path: str) -> bool:
    try:
        os.mkdir(path, OURS_DIR)
    except FileExistsError:
        return False
    return True


def _recorded(rec: Record) -> Entry:
    """The entry of a bundle file recorded at a path (what _entry makes of its record)."""
    mode = rec.mode or 0
    return Entry(rec.path, kind(mode), stat.S_IMODE(mode), rec.uid or 0, rec.gid or 0, None,
                 "upper", rec.src, rec.sha)
