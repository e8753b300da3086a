"""Writing items into a directory tree, and reading back what the hooks changed.

`write` puts Items into a tree: a lower layer before the overlays are mounted (a GONE item is
an overlayfs whiteout, an opaque directory carries the overlay's opaque mark), or the box's own
root once it runs (GONE removes, opaque empties). `Diff` walks the overlays' upper layers, where
every write of a hook lands (overlayfs(5): whiteouts are 0/0 character devices, an opaque
directory has user.overlay.opaque=y with the userxattr option), and reports what differs
from what it last reported or was told.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import NamedTuple

from agentkit import beneath, digests, fstree
from agentkit.box.items import DIR, FILE, GONE, OTHER, SYMLINK, Change, Item, kind_of

OPAQUE = "user.overlay.opaque"
CONTENT_CAP = 64 << 20  # a changed file larger than this (or sparse) comes back as its digest
# bytes (holes included: they hash as zeros) a diff hashes of such files: a hook's many huge
# sparse files cost nothing to make and would cost verify seconds each to hash; past it a
# file comes back with its size only, and a note says so
HASH_BUDGET = 1 << 30
MAX_DEPTH = 256  # directories deeper than this below a layer are not looked into
MAX_CHANGES = 100_000  # per diff; past it the rest is summed up in a note


class Written(NamedTuple):
    unowned: int  # items whose owner this box cannot represent (shown as root instead)
    failed: list[str]  # "path: reason" of items that could not be written


def _remove(path: str) -> None:
    """rm -rf without following a link."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        fstree.remove_tree(path)
    else:
        os.unlink(path)


def _own(path: str, item: Item) -> bool:
    """lchown, then the mode (chown clears setuid bits); False if the owner cannot be shown."""
    ok = True
    try:
        os.lchown(path, item.uid, item.gid)
    except OSError:  # EINVAL: no mapping for that id in this box
        ok = item.uid == 0 and item.gid == 0
    if item.kind != SYMLINK:
        os.chmod(path, item.mode)
    return ok


def _copy_fd(src: int, dst: int) -> None:
    os.lseek(src, 0, os.SEEK_SET)
    while True:
        try:
            done = os.sendfile(dst, src, None, 1 << 24)
        except OSError:  # not every pair of files can sendfile: plain reads then
            done = -1
        if done == 0:
            return
        if done < 0:
            break
    while chunk := os.read(src, 1 << 20):
        os.write(dst, chunk)


def _write_one(root: str, item: Item, fds: list[int], layer: bool) -> bool:
    path = root.rstrip("/") + item.path if item.path != "/" else root
    if item.kind == GONE:
        _remove(path)
        if layer:
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return True
    if item.kind == DIR:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and (not stat.S_ISDIR(st.st_mode) or (item.opaque and not layer)):
            _remove(path)
            st = None
        if st is None:
            os.mkdir(path, 0o700)
        if item.opaque and layer:
            os.setxattr(path, OPAQUE, b"y")
        return _own(path, item)
    if item.kind == SYMLINK:
        _remove(path)
        os.symlink(item.target or "", path)
        return _own(path, item)
    if item.kind == FILE:
        if os.path.isdir(path) and not os.path.islink(path):
            _remove(path)
        tmp = f"{os.path.dirname(path)}/.agentkit-new-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            if item.fd is not None:
                _copy_fd(fds[item.fd], fd)
        finally:
            os.close(fd)
        owned = _own(tmp, item)
        if item.mtime is not None:
            os.utime(tmp, (item.mtime, item.mtime))
        os.replace(tmp, path)
        return owned
    return True  # OTHER: fifos and devices are not recreated


def write(root: str, items: list[Item], fds: list[int], layer: bool) -> Written:
    """Write items (sorted by path, parents first) under `root`; `layer`: root is a lower
    layer not yet mounted."""
    unowned, failed = 0, []
    for item in items:
        try:
            if not _write_one(root, item, fds, layer):
                unowned += 1
        except OSError as exc:
            failed.append(f"{item.path}: {exc.strerror or exc}")
    return Written(unowned, failed)


# --- what the hooks changed -------------------------------------------------------------------
Signature = tuple[str, int, int, int, int, int, str]


def _signature(st: os.stat_result, target: str) -> Signature:
    kind = kind_of(st.st_mode)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        kind = GONE
    if kind in (DIR, GONE):  # a directory's size and time change with its content
        return (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, 0, 0, "")
    return (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size,
            st.st_mtime_ns, target)


class Upper(NamedTuple):
    fd: int  # an open directory: an overlay's upper layer, or the box's own root
    prefix: str  # the box path it stands for
    skip: frozenset[str]  # names at its top that are not the hooks' (mount points)


class Diff:
    """Reports, each time it is asked, the paths of the upper layers that differ from what it
    reported or was told (`know`) before."""

    def __init__(self, uppers: list[Upper]) -> None:
        self.uppers = uppers
        # Each mount point is the top of its own overlay: no upper layer holds the point
        # itself, so a walk never sees it; known, it would be reported gone at the next diff.
        self.mounted = {u.prefix for u in uppers} | {
            f"/{name}" for u in uppers if u.prefix == "/" for name in u.skip}
        self.known: dict[str, Signature] = {}
        self.opaque: set[str] = set()  # directories already reported opaque
        self.notes: list[str] = []
        self.hash_left, self.unhashed = HASH_BUDGET, 0  # (each diff starts again)
        self.sent: set[tuple[int, int]] = set()  # (dev, inode) of linked files sent whole

    def know(self, box_path: str) -> None:
        """What verify itself wrote there (a replayed Install): not a change of the hooks."""
        if box_path in self.mounted:
            return
        with contextlib.suppress(OSError):
            st = os.lstat(box_path)
            target = os.readlink(box_path) if stat.S_ISLNK(st.st_mode) else ""
            self.known[box_path] = _signature(st, target)

    def changes(self) -> Iterator[tuple[Change, int | None]]:
        """Each change, with the descriptor of a regular file's bytes (the caller closes it)."""
        seen: set[str] = set()
        count = 0
        self.hash_left, self.unhashed = HASH_BUDGET, 0
        self.sent.clear()
        for upper in self.uppers:
            for path, st, target, opaque in self._walk(upper):
                seen.add(path)
                sig = _signature(st, target)
                names = None
                if opaque is not None and path not in self.opaque:
                    self.opaque.add(path)
                    names = opaque
                if self.known.get(path) == sig and names is None:
                    continue
                count += 1
                if count > MAX_CHANGES:
                    continue
                self.known[path] = sig
                yield self._change(upper, path, st, sig, names)
        if count > MAX_CHANGES:
            self.notes.append(f"the hooks changed {count} paths; verify reports the first "
                              f"{MAX_CHANGES}")
        if self.unhashed:
            self.notes.append(f"{self.unhashed} file(s) the hooks wrote are listed without a "
                              f"digest: verify hashes at most {HASH_BUDGET >> 20} MiB of files "
                              f"over {CONTENT_CAP >> 20} MiB, sparse or linked per event")
        for path in sorted(set(self.known) - seen):
            del self.known[path]
            self.opaque.discard(path)
            yield Change(path, GONE), None

    def _change(self, upper: Upper, path: str, st: os.stat_result, sig: Signature,
                names: list[str] | None) -> tuple[Change, int | None]:
        kind = sig[0]
        fd, sha = None, None
        if kind == FILE:
            try:  # (a hook may have made it a FIFO since the walk: no wait for a writer)
                fd = beneath.regular(os.open(self._rel(upper, path), os.O_RDONLY |
                                             os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK,
                                             dir_fd=upper.fd), path)
            except beneath.NotRegular:
                kind = OTHER
            except OSError:
                pass
            if fd is not None and (st.st_size > CONTENT_CAP or _sparse(st) or
                                   self._linked(st)):
                sha = self._digest(fd, st.st_size)
                os.close(fd)
                fd = None
        change = Change(path, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                        st.st_mtime, st.st_size if kind == FILE else 0,
                        sig[6] if kind == SYMLINK else None, None, sha, names)
        return change, fd

    def _linked(self, st: os.stat_result) -> bool:
        """Whether this is another name of a file already sent whole in this diff: a hard
        link costs the hook nothing (forty names of one 60 MiB file would be 2.4 GB of
        verify's disk), so each file's bytes come at most once, the other names as its
        digest."""
        if st.st_nlink < 2:
            return False
        key = (st.st_dev, st.st_ino)
        if key in self.sent:
            return True
        self.sent.add(key)
        return False

    def _digest(self, fd: int, size: int) -> str | None:
        if size > self.hash_left:
            self.unhashed += 1
            return None
        self.hash_left -= size
        return digests.sparse_sha256(fd, size)

    @staticmethod
    def _rel(upper: Upper, path: str) -> str:
        return path[len(upper.prefix.rstrip("/")) + 1:]

    def _walk(self, upper: Upper) -> Iterator[tuple[str, os.stat_result, str, list[str] | None]]:
        """(box path, lstat, link target, names if an opaque directory) for everything below
        an upper layer, parents first; iterative, one directory open at a time, bounded in
        depth."""
        stack: list[tuple[str, int]] = [("", 0)]  # (path relative to the layer, depth)
        base = upper.prefix.rstrip("/")
        while stack:
            rel, depth = stack.pop()
            try:
                dir_fd = os.open(rel or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                 dir_fd=upper.fd)
            except OSError:
                continue
            try:
                names = sorted(os.listdir(dir_fd))
                found = []
                for name in names:
                    if not rel and name in upper.skip:
                        continue
                    try:
                        st = os.lstat(name, dir_fd=dir_fd)
                    except OSError:
                        continue
                    found.append((name, st))
                for name, st in found:
                    child = f"{rel}/{name}" if rel else name
                    target = os.readlink(name, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else ""
                    opaque = None
                    if stat.S_ISDIR(st.st_mode) and _is_opaque(dir_fd, name):
                        with contextlib.suppress(OSError):
                            opaque = sorted(os.listdir(os.path.join(f"/proc/self/fd/{dir_fd}",
                                                                    name)))
                    yield f"{base}/{child}", st, target, opaque
            finally:
                os.close(dir_fd)
            subdirs = [f"{rel}/{n}" if rel else n for n, st in found if stat.S_ISDIR(st.st_mode)]
            if subdirs and depth + 1 >= MAX_DEPTH:
                self.notes.append(f"verify did not look below {base}/{rel}: the hooks made "
                                  f"directories more than {MAX_DEPTH} deep")
                continue
            stack.extend((d, depth + 1) for d in reversed(subdirs))


def _sparse(st: os.stat_result) -> bool:
    """A file with holes (fewer bytes on its file system than its size): it comes back as
    its digest, like a big one. Its bytes would cost the hook nothing and verify its size:
    fifty `truncate -s 60M` wrote 3 GB to verify's disk. So what verify copies of the hooks'
    files is at most what they used of the box's tmpfs (--max-disk)."""
    return st.st_blocks * 512 < st.st_size


def _is_opaque(dir_fd: int, name: str) -> bool:
    try:
        return os.getxattr(os.path.join(f"/proc/self/fd/{dir_fd}", name), OPAQUE,
                           follow_symlinks=False) == b"y"
    except OSError:
        return False

