"""Unpacking an instance image's tarball into a directory, never writing through one of its
links: a member `etc -> /etc` followed by `etc/passwd` would write this machine's file, so
each parent is made here, as a directory, before anything goes in it (what `tar -x` does
only with --no-overwrite-dir and luck). Devices and fifos are skipped (the box has its own
/dev); owners are kept where the caller may give them: real root, or root of a user namespace
mapped to a subordinate id range (box/mapped.py), where an id beyond the range stays root's.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from typing import NamedTuple

from agentkit import fstree
from agentkit.errors import BadInput


class Unpacked(NamedTuple):
    skipped: int  # devices, fifos, members that would leave the image or write through a link
    unowned: int  # members whose owner has no id here: left root's
    owners: bool  # whether owners were given at all


def _member_path(name: str) -> str | None:
    """A member's path inside the image, or None for one that would leave it."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/".join(parts)


class _Unpack:
    def __init__(self, root: str) -> None:
        self.root = root
        self.dirs: set[str] = {""}  # made here as directories: safe to write into
        self.modes: dict[str, int] = {}  # directory modes (the last member's), set last
        self.skipped = 0
        self.unowned = 0
        self.owners = os.geteuid() == 0  # (inside a mapped namespace too)

    def parent_ready(self, rel: str) -> bool:
        """Make the member's parents as real directories; False if one of them is a
        member that is not a directory (nothing is written through a link)."""
        parent = rel.rpartition("/")[0]
        missing = []
        while parent not in self.dirs:
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        for d in reversed(missing):
            full = os.path.join(self.root, d)
            try:
                os.mkdir(full, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(full).st_mode):
                    return False
            self.dirs.add(d)
        return True

    def one(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = _member_path(m.name)
        if not rel or not self.parent_ready(rel):
            self.skipped += 0 if rel == "" else 1
            return
        full = os.path.join(self.root, rel)
        if not m.isdir() and rel in self.dirs:  # a directory replaced: nothing goes in it now
            self.dirs = {d for d in self.dirs if d != rel and not d.startswith(rel + "/")}
        if m.isdir():
            if rel not in self.dirs:
                _clear(full, keep_dir=True)
                os.makedirs(full, 0o755, exist_ok=True)
                self.dirs.add(rel)
            self.modes[rel] = m.mode & 0o7777
        elif m.issym():
            _clear(full)
            os.symlink(m.linkname, full)
        elif m.islnk():
            src = self.link_source(m.linkname)
            if src is None:
                self.skipped += 1
                return
            _clear(full)
            os.link(src, full, follow_symlinks=False)
            return
        elif m.isreg():
            _clear(full)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, tar.extractfile(m) as data:  # type: ignore[union-attr]
                for chunk in iter(lambda: data.read(1 << 20), b""):
                    out.write(chunk)
            self.own(full, m)
            os.chmod(full, m.mode & 0o7777)  # after chown, which clears setuid and setgid
            return
        else:  # devices, fifos: the box has its own /dev
            self.skipped += 1
            return
        self.own(full, m)

    def link_source(self, name: str) -> str | None:
        """The file a hard link member names, if it is a regular file of the image reached
        through directories made here (a link in its path could lead out of the image)."""
        target = _member_path(name)
        if not target or target.rpartition("/")[0] not in self.dirs:
            return None
        src = os.path.join(self.root, target)
        try:
            return src if stat.S_ISREG(os.lstat(src).st_mode) else None
        except OSError:
            return None

    def own(self, full: str, m: tarfile.TarInfo) -> None:
        if self.owners:
            try:
                os.lchown(full, m.uid, m.gid)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: an id the namespace does not map
                    raise
                self.unowned += 1
        if not m.issym():
            os.utime(full, (m.mtime, m.mtime), follow_symlinks=False)


def _clear(full: str, keep_dir: bool = False) -> None:
    """Remove what an earlier member put at `full` (a later member wins, as with tar)."""
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            fstree.remove_tree(full)
    else:
        os.unlink(full)


def unpack(path: str, root: str) -> Unpacked:
    """Unpack the tarball at `path` into the existing, empty directory `root`."""
    job = _Unpack(root)
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                job.one(tar, m)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadInput(f"--image {path}: not a readable tar or tar.gz ({exc}); give a "
                       "directory or what `docker export` writes.") from None
    for rel, mode in sorted(job.modes.items(), key=lambda item: -item[0].count("/")):
        # only where it is still a directory made here: one replaced by a link since (a
        # later member) must not pass the mode to what the link points at
        full = os.path.join(root, rel)
        if rel in job.dirs and stat.S_ISDIR(os.lstat(full).st_mode):
            os.chmod(full, mode)
    return Unpacked(job.skipped, job.unowned, job.owners)
