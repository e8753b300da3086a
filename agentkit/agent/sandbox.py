"""A copy-on-write view of this machine: reads fall through to the host, writes stay here.

Every path is an absolute host path. Writes go to `<root>/upper<path>`; deleting a host path
records a whiteout. Nothing here ever opens a host path for writing, follows a host symlink to
write, or removes anything outside `root`. The state (whiteouts, owners the agent would set)
is saved in `<root>/sandbox.json` so a later `verify --state-dir` sees the same machine.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass

MAX_LINKS = 40


@dataclass(frozen=True)
class Entry:
    """What is at a path, as the deployment would see it."""

    path: str
    type: str  # file, dir, symlink, other
    mode: int
    uid: int
    gid: int
    target: str | None
    where: str  # upper or host


class Sandbox:
    def __init__(self, root: str, host: str = "/") -> None:
        self.root = root
        self.upper = os.path.join(root, "upper")
        self.host = host
        os.makedirs(self.upper, exist_ok=True)
        self.whiteouts: set[str] = set()
        self.owners: dict[str, tuple[int, int]] = {}
        # Paths the deployment wrote. Other upper directories only hold those paths: they
        # stay transparent, showing the host's directory and its attributes.
        self.written: set[str] = set()
        self._host_stats: dict[str, os.stat_result | None] = {}  # the host never changes
        self._upper_dirs: set[str] = set()  # transparent parents of written paths
        self._upper_nondirs: set[str] = set()
        self._digests: dict[tuple[int, int, int, int], str] = {}
        # Files installed unchanged from the bundle are only recorded (path -> bundle file):
        # writing 20,000 copies or links costs as much as unpacking them.
        self.virtual: dict[str, str] = {}
        self._vstats: dict[str, os.stat_result] = {}  # bundle files do not change meanwhile
        self._children: dict[str, set[str]] = {}
        self._load()

    # --- persistence -------------------------------------------------------------------------
    def _state_file(self) -> str:
        return os.path.join(self.root, "sandbox.json")

    def _load(self) -> None:
        try:
            with open(self._state_file()) as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        self.whiteouts = set(data.get("whiteouts", []))
        self.owners = {k: (v[0], v[1]) for k, v in data.get("owners", {}).items()}
        self.written = set(data.get("written", []))
        for path, src in data.get("virtual", {}).items():
            self._add_virtual(path, src)
        for path in self.written:
            self._note_parents(path)
            if not os.path.isdir(self.up(path)) or os.path.islink(self.up(path)):
                self._upper_nondirs.add(path)

    def _note_parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        while parent not in self._upper_dirs and parent != "/":
            self._upper_dirs.add(parent)
            parent = os.path.dirname(parent)

    def save(self) -> None:
        tmp = self._state_file() + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"whiteouts": sorted(self.whiteouts), "written": sorted(self.written),
                       "virtual": dict(sorted(self.virtual.items())),
                       "owners": {k: list(v) for k, v in sorted(self.owners.items())}}, f)
        os.replace(tmp, self._state_file())

    # --- where a path lives ------------------------------------------------------------------
    def up(self, path: str) -> str:
        return self.upper + os.path.normpath(path)

    def _host(self, path: str) -> str:
        return os.path.join(self.host, os.path.normpath(path).lstrip("/"))

    def _whited(self, path: str) -> bool:
        """The host's version of path is gone: it or an ancestor was deleted here (the
        upper layer is always looked at first, so a re-created path is still seen)."""
        if not self.whiteouts:
            return False
        p = os.path.normpath(path)
        while True:
            if p in self.whiteouts:
                return True
            if p == "/":
                return False
            p = os.path.dirname(p)

    def _add_virtual(self, path: str, src: str, st: os.stat_result | None = None) -> None:
        self.virtual[path] = src
        self._vstats[path] = st if st is not None else os.lstat(src)
        self._children.setdefault(os.path.dirname(path), set()).add(os.path.basename(path))

    def _unvirtual(self, path: str) -> None:
        self._vstats.pop(path, None)
        if self.virtual.pop(path, None) is not None:
            self._children.get(os.path.dirname(path), set()).discard(os.path.basename(path))

    def _materialize(self, path: str) -> None:
        """Give a recorded file a real copy in the upper layer (before it is changed)."""
        norm = os.path.normpath(path)
        src = self.virtual.get(norm)
        if src is None:
            return
        self._unvirtual(norm)
        self._prepare_parent(norm)
        shutil.copy2(src, self.up(norm), follow_symlinks=False)

    def materialize_all(self) -> None:
        for path in list(self.virtual):
            src = self.virtual[path]
            self._unvirtual(path)
            self._prepare_parent(path)
            os.link(src, self.up(path))  # the hook sandbox copies layers, never writes them

    def lstat(self, path: str) -> tuple[os.stat_result, str] | None:
        norm = os.path.normpath(path)
        if norm in self._vstats:
            return self._vstats[norm], "upper"
        if norm in self.written:
            try:
                return os.lstat(self.up(norm)), "upper"
            except FileNotFoundError:
                return None
        if self._whited(norm) or self._upper_shadows_parent(norm):
            return None
        host = self._host_stat(norm)
        if host is not None:
            return host, "host"
        if norm in self._upper_dirs:  # a parent of written paths, not on the host
            return os.lstat(self.up(norm)), "upper"
        return None

    def _host_stat(self, norm: str) -> os.stat_result | None:
        if norm not in self._host_stats:
            try:
                self._host_stats[norm] = os.lstat(self._host(norm))
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                self._host_stats[norm] = None
        return self._host_stats[norm]

    def _upper_shadows_parent(self, norm: str) -> bool:
        """An ancestor replaced in the upper layer by a non-directory hides the host below."""
        if not self._upper_nondirs:
            return False
        p = os.path.dirname(norm)
        while p != "/":
            if p in self._upper_nondirs:
                return True
            p = os.path.dirname(p)
        return False

    def lexists(self, path: str) -> bool:
        return self.lstat(path) is not None

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
        names: set[str] = set()
        found = self.lstat(path)
        if found is None:
            return []
        if os.path.isdir(self.up(path)) and not os.path.islink(self.up(path)):
            names.update(os.listdir(self.up(path)))
        names.update(self._children.get(os.path.normpath(path), ()))
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, PermissionError):
            names.update(n for n in os.listdir(self._host(path))
                         if not self._whited(os.path.join(path, n)))
        return sorted(n for n in names if self.lexists(os.path.join(path, n)))

    # --- writes (all into the upper layer) ---------------------------------------------------
    def _prepare_parent(self, path: str) -> None:
        norm = os.path.normpath(path)
        parent = os.path.dirname(norm)
        if parent not in self._upper_dirs and parent not in self.written:
            self.mirror_dirs(parent)
        self._note_parents(norm)

    def mirror_dirs(self, path: str, layer: str | None = None) -> None:
        """Create the directories of `path` in a layer (default: our upper layer) with the
        mode and owner the view shows, so a layer built from it hides no attributes."""
        root = self.upper if layer is None else layer
        current = "/"
        for part in [p for p in path.split("/") if p]:
            current = os.path.join(current, part)
            target = root + current
            if os.path.isdir(target):
                continue
            entry = self.entry(current)
            os.mkdir(target)
            if entry is not None and entry.type == "dir":
                os.chmod(target, entry.mode)
                os.lchown(target, entry.uid, entry.gid)

    def _wrote(self, path: str, is_dir: bool) -> None:
        norm = os.path.normpath(path)
        self.written.add(norm)
        if is_dir:
            self._upper_nondirs.discard(norm)
        else:
            self._upper_nondirs.add(norm)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._prepare_parent(path)
        if os.path.isdir(self.up(path)):  # was only a transparent parent until now
            os.chmod(self.up(path), mode)
        else:
            if os.path.lexists(self.up(path)):
                os.unlink(self.up(path))
            os.mkdir(self.up(path), mode)
        self._wrote(path, True)

    def write_file(self, path: str, src: str, *, mode: int, mtime: float,
                   owner: tuple[int, int] | None, share: bool = False,
                   src_stat: os.stat_result | None = None) -> None:
        """Copy `src` to `path`. With `share`, `src` is a bundle file that stays put: a file
        with its bytes, mode and time is only recorded (chmod or a hook makes a real copy)."""
        norm = os.path.normpath(path)
        self._unvirtual(norm)
        self._prepare_parent(path)
        dst = self.up(path)
        if norm in self.written and os.path.lexists(dst) and not os.path.isdir(dst):
            os.unlink(dst)
        st = src_stat if src_stat is not None else os.lstat(src)
        if share and stat.S_IMODE(st.st_mode) == mode and st.st_mtime == mtime:
            self._add_virtual(norm, src, st)
        else:
            shutil.copyfile(src, dst, follow_symlinks=False)
            os.chmod(dst, mode)
            os.utime(dst, (mtime, mtime))
        self._wrote(path, False)
        if owner is not None:
            self.owners[os.path.normpath(path)] = owner

    def symlink(self, target: str, path: str) -> None:
        self._unvirtual(os.path.normpath(path))
        self._prepare_parent(path)
        os.symlink(target, self.up(path))
        self._wrote(path, False)

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
        self.owners[os.path.normpath(path)] = (uid, gid)

    def _copy_up(self, path: str) -> None:
        found = self.lstat(path)
        if found is None or (found[1] == "upper" and os.path.normpath(path) in self.written):
            return
        self._wrote(path, stat.S_ISDIR(found[0].st_mode))
        st = found[0]
        self._prepare_parent(path)
        host = self._host(path)
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(self.up(path), exist_ok=True)
            os.chmod(self.up(path), stat.S_IMODE(st.st_mode))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(host), self.up(path))
        else:
            shutil.copyfile(host, self.up(path), follow_symlinks=False)
            os.chmod(self.up(path), stat.S_IMODE(st.st_mode))
        self.owners.setdefault(os.path.normpath(path), (st.st_uid, st.st_gid))

    def remove(self, path: str) -> None:
        """rm of a file or link (never follows it)."""
        self._unvirtual(os.path.normpath(path))
        up = self.up(path)
        if os.path.lexists(up):
            os.unlink(up)
        if os.path.lexists(self._host(path)):
            self.whiteouts.add(os.path.normpath(path))
        self.owners.pop(os.path.normpath(path), None)
        self.written.discard(os.path.normpath(path))
        self._upper_nondirs.discard(os.path.normpath(path))

    def rmdir(self, path: str) -> bool:
        """rmdir: only an empty directory; returns whether it was removed."""
        if self.listdir(path):
            return False
        up = self.up(path)
        if os.path.isdir(up) and not os.path.islink(up):
            shutil.rmtree(up)  # only transparent parents can be left in it
            norm = os.path.normpath(path)
            below = norm.rstrip("/") + "/"
            self._upper_dirs = {p for p in self._upper_dirs
                                if p != norm and not p.startswith(below)}
        if os.path.lexists(self._host(path)):
            self.whiteouts.add(os.path.normpath(path))
        self.owners.pop(os.path.normpath(path), None)
        self.written.discard(os.path.normpath(path))
        return True

    # --- reading results ---------------------------------------------------------------------
    def entry(self, path: str) -> Entry | None:
        found = self.lstat(path)
        if found is None:
            return None
        st, where = found
        kind = ("symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
                else "file" if stat.S_ISREG(st.st_mode) else "other")
        uid, gid = self.owners.get(os.path.normpath(path), (st.st_uid, st.st_gid))
        return Entry(path, kind, stat.S_IMODE(st.st_mode), uid, gid,
                     self.readlink(path) if kind == "symlink" else None, where)

    def sha256(self, path: str) -> str | None:
        found = self.lstat(path)
        if found is None or not stat.S_ISREG(found[0].st_mode):
            return None
        norm = os.path.normpath(path)
        real = self.virtual.get(norm) or (self.up(path) if found[1] == "upper"
                                          else self._host(path))
        return self.digest(real, found[0])

    def know_digests(self, digests: dict[tuple[int, int, int, int], str]) -> None:
        """Digests computed elsewhere (while unpacking), keyed like ours."""
        self._digests.update(digests)

    def digest(self, real: str, st: os.stat_result) -> str:
        """sha256 of a real file, computed once per inode and version."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in self._digests:
            return self._digests[key]
        digest = hashlib.sha256()
        with open(real, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        self._digests[key] = digest.hexdigest()
        return self._digests[key]

    def walk(self, path: str) -> Iterator[str]:
        """Every path at and below `path`, without following symlinks."""
        if not self.lexists(path):
            return
        yield path
        if self.islink(path):
            return
        found = self.lstat(path)
        if found and stat.S_ISDIR(found[0].st_mode):
            for name in self.listdir(path):
                yield from self.walk(os.path.join(path, name))

    def touched(self) -> list[str]:
        """Every path written or deleted in this sandbox (host paths), sorted."""
        return sorted(self.whiteouts | self.written | set(self.owners))
