"""The instance's root file system that `verify --image` shows hooks and judges Install
against, instead of this machine's /: a directory, or a tar / tar.gz of one (`docker export`
of an amazonlinux:2023 container, the files of a golden AMI), unpacked once into a cache.

The unpacking never writes through a link of the image (a member `etc -> /etc` followed by
`etc/passwd` would write this machine's file): each parent is made here, as a directory,
before anything goes in it. Devices and fifos are skipped (a note counts them); owners are
kept when root unpacks, and are the caller's otherwise (the box shows them as root).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import tempfile
from typing import NamedTuple

from agentkit import fstree
from agentkit.errors import BadInput

COMPLETE = ".agentkit-image-complete"  # written last: a cache entry without it is half made


class Image(NamedTuple):
    root: str  # the directory shown as /
    notes: tuple[str, ...]


def prepare(path: str, cache: str | None = None) -> Image:
    """The image's root directory, unpacking a tarball into the cache when needed."""
    if os.path.isdir(path):
        return Image(_check_root(os.path.realpath(path), path), ())
    if not os.path.isfile(path):
        raise BadInput(f"--image {path}: no such directory or file; give the instance's root "
                       "file system as a directory or a tar/tar.gz of one (docker export).")
    digest = _sha256(path)
    base = cache or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                 os.path.expanduser("~/.cache"), "agentkit", "images")
    root = os.path.join(base, digest)
    if os.path.exists(os.path.join(root, COMPLETE)):
        notes = _read_notes(root)
        return Image(_check_root(root, path), notes)
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=base)
    try:
        notes = _unpack(path, tmp)
        with open(os.path.join(tmp, COMPLETE), "w") as f:
            f.write("".join(n + "\n" for n in notes))
        if os.path.isdir(root):  # a half-made one of a killed run
            fstree.remove_tree(root)
        os.rename(tmp, root)
    except BaseException:
        fstree.remove_tree(tmp)
        raise
    return Image(_check_root(root, path), notes)


def _check_root(root: str, given: str) -> str:
    if not any(os.path.isdir(os.path.join(root, d)) for d in ("etc", "usr")):
        raise BadInput(f"--image {given}: it holds no etc/ or usr/, so it is not a root file "
                       "system; give the directory `docker export` (or the AMI) has at /.")
    return root


def _read_notes(root: str) -> tuple[str, ...]:
    with open(os.path.join(root, COMPLETE)) as f:
        return tuple(line.rstrip("\n") for line in f if line.strip())


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        self.modes: list[tuple[str, int]] = []  # directory modes, set last
        self.skipped = 0
        self.owners = os.geteuid() == 0

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
            self.modes.append((full, m.mode & 0o7777))
        elif m.issym():
            _clear(full)
            os.symlink(m.linkname, full)
        elif m.islnk():
            target = _member_path(m.linkname)
            src = os.path.join(self.root, target) if target else ""
            if not target or not os.path.isfile(src) or os.path.islink(src):
                self.skipped += 1
                return
            _clear(full)
            os.link(src, full)
            return
        elif m.isreg():
            _clear(full)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, tar.extractfile(m) as data:  # type: ignore[union-attr]
                for chunk in iter(lambda: data.read(1 << 20), b""):
                    out.write(chunk)
            os.chmod(full, m.mode & 0o7777)
        else:  # devices, fifos: the box has its own /dev
            self.skipped += 1
            return
        self.own(full, m)

    def own(self, full: str, m: tarfile.TarInfo) -> None:
        if self.owners:
            os.lchown(full, m.uid, m.gid)
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


def _unpack(path: str, root: str) -> tuple[str, ...]:
    job = _Unpack(root)
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                job.one(tar, m)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadInput(f"--image {path}: not a readable tar or tar.gz ({exc}); give a "
                       "directory or what `docker export` writes.") from None
    for full, mode in reversed(job.modes):
        os.chmod(full, mode)
    notes = []
    if job.skipped:
        notes.append(f"the image's {job.skipped} device, fifo or unsafe member(s) were not "
                     "unpacked (the box has its own /dev)")
    if not job.owners:
        notes.append("the image was unpacked by a user who is not root: its files are that "
                     "user's, so the box shows them all as root's")
    return tuple(notes)
