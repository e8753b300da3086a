"""DownloadBundle: unpack an archive into deployment-archive as the agent would, but safely.

1.x runs `/bin/tar -xpsf` (tgz: `-zxpsf`) or `unzip -qo`, falling back to rubyzip
(lib/instance_agent/platform/linux_util.rb, command_executor.rb#unpack_bundle); 2.x runs
`tar -xf`/`-xzf` or `unzip -o` and falls back to the Rust tar/zip crates
(host_command/bundle_unpacker.rs). We write every member ourselves so that nothing can land
outside `dest`: names are normalised as GNU tar does (leading `/` dropped, `..` refused),
symlinks are created only after every other member (GNU tar's delayed links, kept for all
links), devices and fifos are never created, hard links must point at a file already
extracted here. What the agent itself would have done with each such member is a finding.

Over 500 lines: tar and zip unpacking share the name rules, the delayed links and the
limits; tarstream.py and inflate.py already hold the formats' readers. To split next.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import grp
import os
import pwd
import re
import shutil
import sqlite3
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from agentkit import proc
from agentkit.appspec.rules import RULES
from agentkit.bundle import archive, tarstream
from agentkit.errors import BadArchive, BadInput
from agentkit.findings import ERROR, WARNING, Finding
from agentkit.hostview import store

TAR_FAILED = "Error extracting tar archive: 2"
RUBYZIP_NOT_ZIP = "Zip end of central directory signature not found"


class Members:
    """What the archive says of its members that Install and the checks need afterwards:
    owners other than root (tar -xp as root keeps them; Install's copy preserves them) and,
    with --no-install, which files were read but not written. Kept in the store: a Jenkins
    archive carries the build user's uid on every member."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute("DELETE FROM member")
        self.prefix = ""  # the stripped top-level directory, with its "/"
        self.unwritten = 0
        self._owners: list[tuple[str, int, int]] = []  # not yet in the store
        self._marks: list[tuple[str, int]] = []
        self._files: list[tuple[str, int | None, int | None, str | None, int, float]] = []

    def own(self, rel: str, uid: int, gid: int) -> None:
        self._owners.append((store.key(rel), uid, gid))
        if len(self._owners) >= 512:
            self.flush()

    def file(self, rel: str, sha: str | None, size: int, mtime: float,
             owner: tuple[int, int] | None = None) -> None:
        """A regular file extracted at rel, with its digest when it was computed on the way
        and its owner when not root."""
        uid, gid = owner if owner else (None, None)
        self._files.append((store.key(rel), uid, gid, sha, size, mtime))
        if len(self._files) >= 512:
            self.flush()

    def is_file(self, rel: str) -> bool:
        self.flush()
        return self.db.execute("SELECT 1 FROM member WHERE rel = ? AND size IS NOT NULL",
                               (store.key(rel),)).fetchone() is not None

    def is_unwritten(self, rel: str) -> bool:
        """Whether rel (relative to the archive's root) was read but not written."""
        self.flush()
        return self.db.execute("SELECT 1 FROM member WHERE rel = ? AND unwritten = 1",
                               (store.key(rel),)).fetchone() is not None

    def mark_unwritten(self, rel: str, unwritten: bool) -> None:
        self._marks.append((store.key(rel), int(unwritten)))
        self.unwritten += 1 if unwritten else 0
        if len(self._marks) >= 512:
            self.flush()

    def flush(self) -> None:
        if self._owners:
            self.db.executemany("INSERT INTO member(rel, uid, gid) VALUES (?, ?, ?) ON "
                                "CONFLICT(rel) DO UPDATE SET uid = excluded.uid, "
                                "gid = excluded.gid", self._owners)
            self._owners.clear()
        if self._files:
            self.db.executemany("INSERT INTO member(rel, uid, gid, sha, size, mtime) VALUES "
                                "(?, ?, ?, ?, ?, ?) ON CONFLICT(rel) DO UPDATE SET "
                                "uid = excluded.uid, gid = excluded.gid, sha = excluded.sha, "
                                "size = excluded.size, mtime = excluded.mtime", self._files)
            self._files.clear()
        if self._marks:  # in order: a buffered script is marked, then written
            self.db.executemany("INSERT INTO member(rel, unwritten) VALUES (?, ?) ON "
                                "CONFLICT(rel) DO UPDATE SET unwritten = excluded.unwritten",
                                self._marks)
            self._marks.clear()

    def __contains__(self, rel: object) -> bool:
        """Whether rel (relative to the bundle root) was read but not written."""
        if not self.unwritten or not isinstance(rel, str):
            return False
        self.flush()
        return self.db.execute("SELECT 1 FROM member WHERE rel = ? AND unwritten = 1",
                               (store.key(self.prefix + rel),)).fetchone() is not None

    def count_under(self, rel_dir: str) -> int:
        """How many unwritten files lie below rel_dir."""
        if not self.unwritten:
            return 0
        self.flush()
        low, high = store.below(store.key(self.prefix + rel_dir))
        row = self.db.execute("SELECT COUNT(*) FROM member WHERE rel > ? AND rel < ? "
                              "AND unwritten = 1", (low, high)).fetchone()
        return int(row[0])

    def names_under(self, rel_dir: str, limit: int) -> list[str]:
        """Up to `limit` unwritten files below rel_dir, relative to it, in path order."""
        if not self.unwritten:
            return []
        self.flush()
        base = store.key(self.prefix + rel_dir)
        low, high = store.below(base)
        rows = self.db.execute("SELECT rel FROM member WHERE rel > ? AND rel < ? AND "
                               "unwritten = 1 ORDER BY rel LIMIT ?", (low, high, limit))
        return [store.unkey(r[0])[len(low):] for r in rows]


@dataclass
class Unpacked:
    dest: str
    declared: str
    content: str
    failure: str | None = None  # the agent's DownloadBundle error, verbatim
    findings: list[Finding] = field(default_factory=list)
    stripped: str | None = None  # the single top-level directory the agent strips
    members: int = 0
    db: sqlite3.Connection = field(default_factory=lambda: store.connect(":memory:"))
    limit: int = 1 << 62  # bytes of files verify writes at most (--max-disk)
    written: int = 0  # bytes of files so far
    # why the rest was not unpacked: more than --max-disk (AK408), or a zip whose names
    # verify cannot read (AK407); the prediction is undetermined
    too_big: str | None = None
    listing: Members = field(init=False)

    def __post_init__(self) -> None:
        self.listing = Members(self.db)


def _set_time(where: str | int, mtime: float) -> None:
    """utime, as GNU tar sets it: a time the system cannot hold is warned of and left."""
    with contextlib.suppress(OverflowError, ValueError, OSError):
        os.utime(where, (mtime, mtime))


class TooBig(Exception):
    """The archive holds more than verify unpacks; str() is the member where it stopped."""


def _too_big(out: Unpacked, path: str, member: str) -> None:
    out.too_big = (f"the archive unpacks to more than {out.limit >> 20} MiB (at member "
                   f"{member!r}); verify stops there (--max-disk)")
    out.findings.append(Finding(ERROR, "AK408", path, None, None, out.too_big,
                                "check what the build put into the archive; raise --max-disk "
                                "for a bundle that really is that big"))


class _TarWriter:
    """Receives tar members and writes them under dest the way GNU tar -xp would."""

    def __init__(self, out: Unpacked, archive_path: str, generation: str,
                 lean: bool = False, relayed: bool = False, hashing: bool = True) -> None:
        self.lean = lean
        self.hashing = hashing
        # relayed: GNU tar extracts what member() keeps; we only check, hash and record
        self.relayed = relayed
        self.wanted: set[str] | None = None  # lean: hook scripts, once the appspec is read
        self.buffer: dict[str, tuple[bytearray, int, float]] = {}
        self.buffered = 0
        self.out = out
        self.dest = out.dest
        self.archive = archive_path
        self.generation = generation
        self.links: dict[str, str] = {}  # rel path -> target, created at the end
        # what the agent's tar has made so far: the directories of directory members, those
        # holding members (which nothing else can replace), and what is not a directory (no
        # member goes beneath it), by kind; None once they hold more than TRACKED characters
        # (a hostile archive of deep paths): tar judges alone then
        self.dir_members: set[str] | None = set()
        self.filled: set[str] | None = set()
        self.leaves: dict[str, str] | None = {}
        self.tracked = 0
        self.cached = 0  # characters in made_dirs
        self.dirs: list[tuple[str, int, float]] = []  # modes applied at the end, like tar
        self.refused = False
        self.open_path = ""
        self.made_dirs: set[str] = {self.dest}
        self.umask = _umask()
        self.open_mode = 0o600
        self.open_rel = ""
        self.owners: dict[tuple[str, int, str, int], tuple[int, int]] = {}  # per name pair
        self.owner: tuple[int, int] | None = None  # the current member's, when not root
        self.not_utf8: str | None = None  # the first member name that is not UTF-8,
        self.not_utf8_count = 0  # and how many there are

    def _parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self.made_dirs:
            _makedirs(parent)
            if self.cached > TRACKED:  # a cache: deep hostile paths must not fill memory
                self.made_dirs, self.cached = {self.dest}, 0
            while parent not in self.made_dirs:
                self.made_dirs.add(parent)
                self.cached += len(parent)
                parent = os.path.dirname(parent)

    def finding(self, severity: str, code: str, member: str, message: str, hint: str,
                agent: str | None = None) -> None:
        self.out.findings.append(Finding(severity, code, f"{self.archive}:{member}", None, None,
                                         message, hint, agent))

    def refuse(self, code: str, member: str, message: str, hint: str) -> None:
        # 1.x: GNU tar skips the member and exits 2 at the end: DownloadBundle fails.
        # 2.x: the Rust tar fallback drops the member and the deployment goes on.
        if self.generation == "1":
            self.refused = True
            self.finding(ERROR, code, member, message + "; GNU tar refuses it and exits 2, so "
                         "the deployment fails in DownloadBundle", hint, TAR_FAILED)
        else:
            self.finding(WARNING, code, member, message + "; agent 2.x's fallback drops it and "
                         "the deployment goes on without it", hint)

    def _normalise(self, name: str) -> str | None:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/"):
            self.finding(WARNING, "AK401", name, f"member {name!r} has an absolute path; tar "
                         "strips the leading '/' and extracts it inside the bundle",
                         "build the archive with relative paths (tar -C dir .)")
        if ".." in parts:
            self.refuse("AK402", name, f"member {name!r} contains '..'",
                        "build the archive from inside the bundle directory, without '..'")
            return None
        return "/".join(parts)

    def _check_utf8(self, name: str) -> None:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 are carried as surrogates
            self.not_utf8_count += 1
            self.not_utf8 = self.not_utf8 or name

    def report_not_utf8(self) -> None:
        """One finding for the names that are not UTF-8: agent 1.x writes every path into
        install.json with Ruby's JSON, which refuses them (installer.rb#install)."""
        first, more = self.not_utf8, self.not_utf8_count - 1
        if first is None:
            return
        names = f"member {first!r}" + (f" and {more} more" if more else "")
        if self.generation == "1":  # (whether Install copies it, the plan says: Plan)
            self.finding(WARNING, "AK407", first, f"{names}: the name is not UTF-8; if a "
                         "`files` entry installs it, the agent cannot write install.json "
                         "(Ruby's JSON refuses it) and Install fails before copying anything",
                         _UTF8_HINT)
        else:
            self.finding(WARNING, "AK407", first, f"{names}: the name is not UTF-8; verify "
                         "cannot tell how agent 2.x writes it into install.json (it installs "
                         "it here)", _UTF8_HINT)

    def _owner(self, m: tarstream.Member) -> tuple[int, int]:
        """The owner the agent's tar (root, --same-owner) gives the member on this machine:
        the archive's user and group *names* when they exist here, else its numbers."""
        key = (m.uname, m.uid, m.gname, m.gid)
        if key not in self.owners:
            self.owners[key] = (_local_id(pwd.getpwnam, m.uname, m.uid),
                                _local_id(grp.getgrnam, m.gname, m.gid))
        return self.owners[key]

    def _link_on_path(self, rel: str) -> tuple[str, str, str] | None:
        """The first of the archive's symlinks among rel's parents: (its path, its target,
        the rest of rel below it)."""
        cut = rel.find("/")
        while cut >= 0:
            target = self.links.get(rel[:cut])
            if target is not None:
                return rel[:cut], target, rel[cut + 1:]
            cut = rel.find("/", cut + 1)
        return None

    def _through_link(self, rel: str, name: str) -> str | None:
        """Follow the archive's own relative links in the parent path as tar's open does
        (the kernel, at most MAX_LINKS of them); refuse a link leaving the bundle (AK405), a
        loop, and a link to what is not a directory yet (AK411)."""
        if not self.links or len(rel) >= PATH_MAX:  # (tar cannot open so long a name at all)
            return rel
        first: tuple[str, str] | None = None
        landing = ""
        for _ in range(MAX_LINKS):
            found = self._link_on_path(rel)
            if found is None:
                break
            prefix, target, rest = found
            first = first or (prefix, target)
            if target.startswith("/") or ".." in target.split("/"):
                self.refuse("AK405", name, f"member {name!r} would be written through the "
                            f"symlink {prefix!r} -> {target!r}, outside the bundle",
                            "do not put files under a symlinked directory in the archive")
                return None
            landing = os.path.normpath(os.path.join(os.path.dirname(prefix), target))
            landing = "" if landing == "." else landing
            rel = f"{landing}/{rest}" if landing else rest
        else:
            assert first is not None
            self.refuse("AK411", name, f"member {name!r} lies beneath the symlink {first[0]!r} "
                        f"-> {first[1]!r}, which leads back into itself (tar: Too many levels "
                        "of symbolic links)", RULES["AK411"].hint)
            return None
        if first is None:
            return rel
        if landing and self.filled is not None and self.dir_members is not None and \
                landing not in self.dir_members and landing not in self.filled:
            self.refuse("AK411", name, f"member {name!r} lies beneath the symlink {prefix!r} "
                        f"-> {target!r}, and {landing!r} is not a directory extracted before "
                        "it (tar: No such file or directory)", RULES["AK411"].hint)
            return None
        self.finding(WARNING, "AK412", name, f"member {name!r} is written through the symlink "
                     f"{first[0]!r} -> {first[1]!r} of the archive itself: tar extracts it as "
                     f"{rel!r}", RULES["AK412"].hint)
        return rel

    def _fill(self, rel: str, kind: str) -> None:
        """rel is extracted: its parent directories exist and hold something."""
        filled, dirs, leaves = self.filled, self.dir_members, self.leaves
        if filled is None or dirs is None or leaves is None:
            return
        if len(rel) >= PATH_MAX or self.tracked > TRACKED:  # tar cannot make it / too many
            self.filled = self.dir_members = self.leaves = None
            return
        if kind == "dir":
            dirs.add(rel)
            self.tracked += len(rel)
        elif kind == "symlink":
            leaves.pop(rel, None)
        else:
            leaves[rel] = kind
            self.tracked += len(rel)
        parent = rel.rpartition("/")[0]
        while parent and parent not in filled:
            filled.add(parent)
            self.tracked += len(parent)
            parent = parent.rpartition("/")[0]

    def _odd(self, m: tarstream.Member) -> None:
        for why in m.odd:
            self.finding(WARNING, "AK412", m.name, f"member {m.name!r}: {why}",
                         RULES["AK412"].hint)

    def member(self, m: tarstream.Member) -> tarstream.Sink:
        self.out.members += 1
        self.out.written += m.size
        if self.out.written > self.out.limit:
            raise TooBig(m.name)
        name = m.name[2:] if m.name.startswith("./") else m.name  # `tar -C dir .` names
        if not name.isascii():
            self._check_utf8(m.name)
        rel = name.rstrip("/") if _PLAIN.match(name) else self._normalise(m.name)
        if not rel:
            if m.kind == "dir" and not m.name.strip("./"):
                self._root_entry(m)
            return None
        if m.odd:
            self._odd(m)
        rel2 = self._through_link(rel, m.name)
        if rel2 is None:
            return None
        rel = rel2
        if self.links:
            self.links.pop(rel, None)  # a later member replaces an earlier link of that name
        if m.kind == "symlink" and not m.linkname:
            self.refuse("AK411", m.name, f"symlink {m.name!r} has an empty target (tar: Cannot "
                        "create symlink: No such file or directory)", RULES["AK411"].hint)
            return None
        if not self._fits(m, rel):
            return None
        self._fill(rel, m.kind)
        self.owner = None
        if not self.lean:  # owners matter to Install only
            uid, gid = self._owner(m)
            if uid or gid:
                self.owner = (uid, gid)
                if m.kind != "file":  # a file's is recorded with its data (done)
                    self.out.listing.own(rel, uid, gid)
        if self.relayed and m.kind == "file" and not self.lean:  # the usual member
            self.open_rel = rel
            return tarstream.RELAY_HASHED if self.hashing else tarstream.RELAY
        path = os.path.join(self.dest, rel)
        if m.kind == "dir":
            if not self.relayed:
                _remove_if_not_dir(path)  # a file or link of that name: tar replaces it
                self._parent(os.path.join(path, "."))
                self.dirs.append((path, m.mode & 0o7777, m.mtime))
            elif m.mode & 0o300 != 0o300:  # tar keeps it; we still need to write below it
                self.dirs.append((path, m.mode & 0o7777, m.mtime))
            return tarstream.RELAY if self.relayed else None
        if not self.relayed:
            self._parent(path)
        if m.kind == "symlink":
            self.links[rel] = m.linkname
            return tarstream.RELAY if self.relayed else None
        if m.kind == "hardlink":
            return self._hardlink(m, rel, path)
        if m.kind in ("chardev", "blockdev", "fifo", "other"):
            self.finding(WARNING, "AK403", m.name, f"member {m.name!r} is a {m.kind}; the agent "
                         "(as root) creates it on the instance, verify does not",
                         "remove device files and fifos from the bundle")
            return None
        if self.lean and not _is_appspec(rel):
            return self._lean(m, rel)
        if self.relayed:
            self.open_rel = rel
            return tarstream.RELAY_HASHED if self.hashing else tarstream.RELAY
        return self._open(rel, path, m.mode)

    def _fits(self, m: tarstream.Member, rel: str) -> bool:
        """Whether tar can put the member where the ones before it left room, as GNU tar
        judges: nothing goes beneath what is not a directory (AK411); a directory holding
        members is never replaced (AK411); an empty directory, or a file under a directory
        member's name, is replaced (AK412). False: the member is refused."""
        filled, dirs, leaves = self.filled, self.dir_members, self.leaves
        if filled is None or dirs is None or leaves is None or len(rel) >= PATH_MAX:
            return True
        parent = rel.rpartition("/")[0]
        while parent and parent not in filled and parent not in dirs:
            if parent in leaves:  # (a file, hard link, device or fifo)
                self.refuse("AK411", m.name, f"member {m.name!r} lies beneath {parent!r}, a "
                            f"{_KIND_SAID[leaves[parent]]} extracted before it, not a directory "
                            "(tar: Not a directory)", RULES["AK411"].hint)
                return False
            parent = parent.rpartition("/")[0]
        what = _KIND_SAID.get(m.kind, m.kind)
        shown = f"{m.name!r} -> {m.linkname!r}" if m.kind == "symlink" else repr(m.name)
        if m.kind == "dir":
            if rel in leaves:
                self.finding(WARNING, "AK412", m.name, f"directory {shown} replaces {rel!r}, a "
                             f"{_KIND_SAID[leaves.pop(rel)]} extracted before it: tar removes "
                             "it and makes the directory", RULES["AK412"].hint)
            return True
        if rel in filled:
            self.refuse("AK411", m.name, f"{what} {shown} would replace the directory {rel!r}, "
                        "which holds members extracted before it (tar: "
                        f"{_TAR_CANNOT.get(m.kind, 'Cannot open')}: File exists)",
                        RULES["AK411"].hint)
            return False
        if rel in dirs:
            dirs.discard(rel)
            self.finding(WARNING, "AK412", m.name, f"{what} {shown} replaces the directory "
                         f"{rel!r} extracted before it: tar removes the empty directory and "
                         f"makes the {what}", RULES["AK412"].hint)
        return True

    def _root_entry(self, m: tarstream.Member) -> None:
        """`./` (what `tar czf x.tgz -C dir .` writes first). The agent's tar -p, run as root,
        gives its mode to deployment-archive itself (linux_util.rb extract_tar: `tar -xpsf`;
        2.x's `tar -xf` as root preserves modes too)."""
        mode = m.mode & 0o7777
        self.dirs.insert(0, (self.dest, mode, m.mtime))  # applied last (the list is reversed)
        if mode & 0o005 != 0o005:
            self.finding(WARNING, "AK410", m.name, f"the archive's root entry {m.name!r} has "
                         f"mode {mode:04o}: the agent's deployment-archive directory gets it, "
                         "and hooks with `runas` cannot reach their scripts (Permission denied, "
                         "exit 126)", RULES["AK410"].hint)

    def _open(self, rel: str, path: str, mode: int | None = None) -> int:
        perms = 0o600 if mode is None else mode & 0o777
        self.open_mode = perms if perms & self.umask == 0 and mode == perms else 0o600
        self.open_rel = rel
        if self.out.listing.unwritten:
            self.out.listing.mark_unwritten(rel, False)
        self.open_path = path
        # O_EXCL, not O_TRUNC: ext4 flushes a file truncated on open when it is closed
        # (auto_da_alloc), which made every member cost a disk write-back. A member that
        # comes again replaces the earlier one, as with tar. Created with its final
        # permissions when the umask leaves them alone (done() saves a chmod then).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            return os.open(path, flags, self.open_mode)
        except FileExistsError:
            _replace(path)
            return os.open(path, flags, self.open_mode)

    def _lean(self, m: tarstream.Member, rel: str) -> tarstream.Sink:
        """--no-install writes only the appspec and the hook scripts. Until the appspec has
        been read, small files wait in a bounded buffer in case they are scripts."""
        if self.wanted is not None and rel in self.wanted:
            return self._open(rel, os.path.join(self.dest, rel), m.mode)
        self.out.listing.mark_unwritten(rel, True)
        if self.wanted is None and m.size <= LEAN_FILE and \
                self.buffered + m.size <= LEAN_BUFFER:
            data = bytearray()
            self.buffer[rel] = (data, m.mode & 0o7777, m.mtime)
            self.buffered += m.size
            return data
        return None

    def _learn(self, appspec_rel: str) -> None:
        """The appspec is in: keep the hook scripts it names, forget the other buffered files."""
        from agentkit.appspec.check import lint_source
        from agentkit.yamlconf.source import read_source

        try:
            found = read_source(os.path.join(self.dest, appspec_rel))
            spec = lint_source(found, platform="linux").appspec
        except BadInput:  # not UTF-8: no scripts to keep (the checks report the file)
            spec = None
        top = os.path.dirname(appspec_rel)
        self.wanted = set()
        for scripts in (spec.hooks.values() if spec else ()):
            for s in scripts:
                loc = script_rel(s.location)
                self.wanted.update({loc, os.path.join(top, loc)} if top else {loc})
        for rel, (data, mode, mtime) in self.buffer.items():
            if rel in self.wanted:
                path = os.path.join(self.dest, rel)
                fd = self._open(rel, path)
                try:
                    os.write(fd, data)
                    os.fchmod(fd, mode)
                    _set_time(fd, mtime)
                finally:
                    os.close(fd)
        self.buffer.clear()

    def _hardlink_target(self, m: tarstream.Member) -> str:
        """The target as GNU tar links it: leading `/` and everything up to the last `..`
        stripped (safer_name_suffix), each said of the member."""
        parts = m.linkname.split("/")
        last = max((i for i, p in enumerate(parts) if p == ".."), default=-1)
        target = "/".join(p for p in parts[last + 1:] if p not in ("", "."))
        if last >= 0:
            self.finding(WARNING, "AK412", m.name, f"hard link {m.name!r} -> {m.linkname!r}: "
                         f"the target climbs with '..'; tar strips "
                         f"{'/'.join(parts[:last + 1]) + '/'!r} and links {target!r}",
                         RULES["AK412"].hint)
        elif m.linkname.startswith("/"):
            self.finding(WARNING, "AK401", m.name, f"hard link {m.name!r} -> {m.linkname!r} has "
                         f"an absolute target; tar strips the leading '/' and links {target!r}",
                         "build the archive with relative paths (tar -C dir .)")
        return target

    def _hardlink(self, m: tarstream.Member, rel: str, path: str) -> tarstream.Sink:
        target = self._hardlink_target(m)
        source = os.path.join(self.dest, target) if target else None
        if self.relayed:
            ok = bool(target) and self.out.listing.is_file(target)
        else:
            ok = source is not None and os.path.isfile(source) and not os.path.islink(source)
        if not ok and self.lean and target and self.out.listing.is_unwritten(target):
            self.out.listing.mark_unwritten(rel, True)  # a link to a file read, not written
            return None
        if not ok or source is None:
            self.refuse("AK404", m.name, f"hard link {m.name!r} -> {m.linkname!r} does not "
                        "point at a file extracted before it", "archive the file itself")
            return None
        if self.relayed:
            return tarstream.RELAY
        try:
            os.link(source, path)
        except FileExistsError:
            _replace(path)
            os.link(source, path)
        return None

    def done(self, m: tarstream.Member, fd: int | bytearray | str, digest: str | None) -> None:
        if m.kind == "file" and not isinstance(fd, bytearray):
            self.out.listing.file(self.open_rel, digest, m.size, m.mtime, self.owner)
        if not isinstance(fd, int):
            return  # relayed to tar, or buffered (lean: written if the appspec names it)
        try:
            if self.open_mode != m.mode & 0o7777:
                os.fchmod(fd, m.mode & 0o7777)
            _set_time(fd, m.mtime)
        finally:
            os.close(fd)
        if self.lean and self.wanted is None:
            rel = self.open_path[len(self.dest) + 1:]
            if _is_appspec(rel):
                self._learn(rel)

    def finish(self) -> None:
        self.out.listing.flush()
        if not self.relayed:
            for rel, target in self.links.items():
                self._symlink(rel, target)
        # the directories' modes (keeping them writable and searchable for us) and times,
        # parents first: a child is reached through its parent's new mode
        real_dest = os.path.realpath(self.dest)
        for path, mode, mtime in sorted(reversed(self.dirs), key=lambda d: d[0].count("/")):
            _settle_dir(path, real_dest + path[len(self.dest):], mode, mtime)

    def _symlink(self, rel: str, target: str) -> None:
        path = os.path.join(self.dest, rel)
        try:
            _unlink_if_not_dir(path)
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)  # as tar does an empty one; one holding members fails
            os.symlink(target, path)
        except OSError as exc:
            self.refuse("AK411", rel, f"symlink {rel!r} -> {target!r} cannot be made "
                        f"(tar: Cannot create symlink: {exc.strerror})", RULES["AK411"].hint)


_UTF8_HINT = "rename it in UTF-8 before archiving (convmv -f latin1 -t utf8 -r --notest)"
MAX_LINKS = 40  # the symlinks the kernel follows in one path (MAXSYMLINKS) before ELOOP
_KIND_SAID = {"file": "file", "hardlink": "hard link", "symlink": "symlink", "dir": "directory",
              "chardev": "character device", "blockdev": "block device", "fifo": "fifo",
              "other": "member of an unknown type"}
_TAR_CANNOT = {"symlink": "Cannot create symlink", "hardlink": "Cannot hard link"}
PATH_MAX = 4096  # no longer path reaches a file (tar's calls fail with ENAMETOOLONG)
TRACKED = 64 << 20  # characters of directory paths kept to judge links against them


def _makedirs(path: str) -> None:
    """os.makedirs without its recursion (an archive's paths may be thousands deep)."""
    if len(path) >= PATH_MAX:
        raise OSError(errno.ENAMETOOLONG, "File name too long", _short(path))
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        up = os.path.dirname(path)
        if up == path:
            break
        path = up
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory)
        if not os.path.isdir(directory):  # a file there: as os.makedirs says it
            raise FileExistsError(errno.EEXIST, "File exists", directory)


def _short(text: str, most: int = 400) -> str:
    """A message naming a path of thousands of characters, cut to a readable length."""
    return text if len(text) <= most else f"{text[:most]}... ({len(text):,} characters)"


def _settle_dir(path: str, real: str, mode: int, mtime: float) -> None:
    """A directory's mode (kept writable and searchable for us) and time, only when `path` is
    still that directory, reached through no symlink (`real`: where it would be without
    one): a member that replaced it, or one of its parents, by a link never makes verify
    change a file of this machine."""
    try:
        if os.path.realpath(path) != real or not stat.S_ISDIR(os.lstat(path).st_mode):
            return
        os.chmod(path, mode | stat.S_IWUSR | stat.S_IXUSR)
    except OSError:  # gone, or not ours to change: tar left it so
        return
    _set_time(path, mtime)
# a relative name without "", "." or ".." parts: nothing to normalise
_PLAIN = re.compile(r"(?!\.\.?(?:/|$))[^/](?:(?!/\.\.?(?:/|$)|//).)*/?$", re.DOTALL)
LEAN_FILE = 64 << 10  # hook scripts are small
LEAN_BUFFER = 32 << 20  # what may wait in memory for the appspec to arrive


def _local_id(lookup: Callable[[str], Any], name: str, number: int) -> int:
    if not name:
        return number
    try:
        return int(lookup(name)[2])  # pw_uid / gr_gid
    except KeyError:
        return number


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def script_rel(location: str) -> str:
    """A hook location as a path inside the bundle (the agent joins it to the archive root)."""
    return os.path.normpath(location.lstrip("/"))


def _is_appspec(rel: str) -> bool:
    return rel.count("/") <= 1 and os.path.basename(rel) in ("appspec.yml", "appspec.yaml")


def _replace(path: str) -> None:
    """Make room for a member as tar does: an earlier file or link goes, an empty directory
    too (one holding members was refused before: _fits)."""
    _unlink_if_not_dir(path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def _remove_if_not_dir(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)


def _unlink_if_not_dir(path: str) -> None:
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


@functools.cache
def gnu_tar() -> str | None:
    """GNU tar, which extracts the members we keep (as the agent's own `tar -x` would)."""
    path = proc.which("tar")
    if path is None:
        return None
    return path if "GNU tar" in proc.run([path, "--version"]).stdout else None


def _relay_to_tar(stream: IO[bytes], writer: _TarWriter, tar: str) -> None:
    """Read the archive and pass what the checks keep to GNU tar, which writes it while we
    go on reading: on a slow disk its writing and our reading overlap. tar sees no member
    that could land outside dest, no device, no fifo."""
    # -b 256 -B: 128 KB reads from the pipe instead of 10 KB ones (a fifth of tar's CPU);
    # -B reassembles short pipe reads, so the records are what tar would read from a file
    argv = [tar, "-x", "-p", "--no-same-owner", "-b", "256", "-B", "-f", "-", "-C",
            writer.dest]
    with tempfile.TemporaryFile() as err:
        try:
            with proc.stdin_sink(argv, err) as write:
                tarstream.read(stream, writer.member, writer.done, tarstream.Relay(write))
        except (ChildProcessError, BrokenPipeError):
            err.seek(0)
            lines = [line.split(": ", 1)[-1] for line in
                     err.read().decode("utf-8", "replace").splitlines()
                     if line and "Removing leading" not in line]
            raise OSError(f"GNU tar: {lines[0] if lines else 'failed'}") from None


def _untar(out: Unpacked, path: str, generation: str, lean: bool, hashing: bool) -> None:
    tar = None if lean else gnu_tar()
    writer = _TarWriter(out, path, generation, lean, tar is not None, hashing)
    kind = out.content
    if (out.declared == "tgz" and kind != "gzip") or kind not in ("gzip", "bzip2", "xz", "tar"):
        out.failure = TAR_FAILED
        why = "is not gzip-compressed (tar -z refuses it)" if kind == "tar" else \
            f"is {kind}, not a tar archive"
        out.findings.append(Finding(ERROR, "AK400", path, None, None,
                                    f"declared as a {out.declared} bundle, but the file {why}",
                                    f"upload it with bundle type {archive.bundle_type(kind)}, "
                                    "or build the archive the type says", TAR_FAILED))
        return
    try:
        with archive.tar_stream(path, kind) as stream:
            if tar is not None:
                _relay_to_tar(stream, writer, tar)
            else:
                tarstream.read(stream, writer.member, writer.done, hashing=hashing)
    except TooBig as exc:
        _too_big(out, path, str(exc))
        return
    except (tarstream.TarError, EOFError, OSError, ValueError) as exc:
        out.failure = TAR_FAILED
        out.findings.append(Finding(ERROR, "AK400", path, None, None,
                                    f"tar cannot read the archive: {_short(str(exc))}",
                                    "rebuild the archive; check the upload was complete",
                                    TAR_FAILED))
        return
    writer.finish()
    writer.report_not_utf8()
    if writer.refused:
        out.failure = TAR_FAILED


def _unzip(out: Unpacked, path: str) -> None:
    if out.content != "zip":
        out.failure = RUBYZIP_NOT_ZIP
        out.findings.append(Finding(
            ERROR, "AK400", path, None, None,
            f"declared as a zip bundle, but the file is {out.content}; unzip fails and the "
            "agent's rubyzip fallback too",
            f"upload it with bundle type {archive.bundle_type(out.content)}", RUBYZIP_NOT_ZIP))
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                # a backslashed MS-DOS name is written twice: by unzip, then by rubyzip
                out.written += info.file_size * (2 if _dos_backslashed(info) else 1)
                if out.written > out.limit:
                    _too_big(out, path, info.filename)
                    return
            out.written = 0
            links = []
            dirs = []  # unzip sets a directory's mode once its content is in
            for info in zf.infolist():
                out.members += 1
                rel = _zip_name(out, path, info)
                if not rel:
                    continue
                target = os.path.join(out.dest, rel)
                mode = info.external_attr >> 16
                if info.is_dir() or (_dos_backslashed(info) and info.filename.endswith("\\")):
                    _makedirs(target)
                    if mode & 0o777:
                        dirs.append((target, mode & 0o777))
                    continue
                _makedirs(os.path.dirname(target))
                if stat.S_ISLNK(mode):  # unzip reads the target as a C string: up to a NUL
                    try:
                        raw = zf.read(info).split(b"\0", 1)[0]
                    except (RuntimeError, NotImplementedError, zlib.error, ValueError) as exc:
                        raise zipfile.BadZipFile(_zip_member_problem(info, exc)) from None
                    links.append((target, raw.decode("utf-8", "surrogateescape")))
                    continue
                _unlink_if_not_dir(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                             0o600)
                try:
                    with os.fdopen(fd, "wb") as dst, zf.open(info) as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
                except (RuntimeError, NotImplementedError, zlib.error, ValueError) as exc:
                    raise zipfile.BadZipFile(_zip_member_problem(info, exc)) from None
                # unzip without -K drops setuid/setgid/sticky; no Unix mode: 0666 less umask
                os.chmod(target, (mode & 0o777) or 0o644)
            for target, link in links:
                _unlink_if_not_dir(target)
                os.symlink(link, target)
            for target, dir_mode in reversed(dirs):
                os.chmod(target, dir_mode)
            _rubyzip_fallback(out, path, zf)
    except UnicodeDecodeError as exc:  # a name flagged UTF-8 that is not: zipfile refuses it
        name = bytes(exc.object).decode("utf-8", "surrogateescape")
        out.too_big = (f"member {name!r}: the zip says its name is UTF-8, and it is not; unzip "
                       "extracts it under these bytes, verify cannot read the zip past it")
        out.findings.append(Finding(WARNING, "AK407", f"{path}:{name}", None, None,
                                    out.too_big, _UTF8_HINT))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        _zip_failed(out, path, exc)


ZIP_FALLBACK = ("Error extracting zip archive: 1, with default system unzip util. Hence falling "
                "back to ruby unzip to mitigate any partially unzipped or skipped zip files.")
_BACKSLASH_HINT = (
    "make the zip with '/' as the separator: `zip -r ../app.zip .` (or 7z, Python's "
    "zipfile, `agentkit bundle`, PowerShell 7's Compress-Archive); in Windows PowerShell 5.1 "
    "use [IO.Compression.ZipFile] and name each entry with '/' instead of Compress-Archive")


def _dos_backslashed(info: zipfile.ZipInfo) -> bool:
    """A name unzip 6.0 rewrites: from MS-DOS/FAT (as Windows PowerShell 5.1's
    Compress-Archive writes it), with `\\` and no `/` (unzip's extract.c)."""
    return info.create_system == 0 and "\\" in info.filename and "/" not in info.filename


def _rubyzip_fallback(out: Unpacked, path: str, zf: zipfile.ZipFile) -> None:
    """What the agent does after unzip's "appears to use backslashes as path separators":
    unzip exits 1 having extracted everything with `/`, and the agent's rubyzip fallback
    (command_executor.rb#unpack_bundle) extracts every member again at File.join(dst, name),
    so a name with `\\` becomes one more file, literally named so, at the bundle's root
    (rubyzip takes `x\\` for a file too, and leaves a new file's mode to the umask). A name
    unzip read literally (not from MS-DOS) gets no warning and no fallback: it is found
    below (`_literal_backslashes`)."""
    dos = [info for info in zf.infolist() if _dos_backslashed(info)]
    if not dos:
        _literal_backslashes(out, path, zf)
        return
    for info in dos:
        target = os.path.join(out.dest, info.filename)
        _unlink_if_not_dir(target)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                         0o644 & ~AGENT_UMASK)
        except OSError:
            continue  # a name longer than NAME_MAX: rubyzip fails on it as well
        try:
            with os.fdopen(fd, "wb") as dst, zf.open(info) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (RuntimeError, NotImplementedError, zlib.error, ValueError) as exc:
            raise zipfile.BadZipFile(_zip_member_problem(info, exc)) from None
    first = dos[0].filename
    more = f" and {len(dos) - 1} more" if len(dos) > 1 else ""
    out.findings.append(Finding(
        WARNING, "AK413", f"{path}:{first}", None, None,
        f"member {first!r}{more} {'use' if more else 'uses'} '\\' as the path separator (a "
        "zip made by Windows "
        "PowerShell 5.1's Compress-Archive): unzip extracts them as "
        f"{first.replace(chr(92), '/')!r}, warns that the archive \"appears to use "
        "backslashes as path separators\" and exits 1; the agent then extracts the whole zip "
        "again with rubyzip (command_executor.rb), which takes each such name literally: the "
        f"bundle also gets a file named {first!r} at its root, and Install copies it",
        _BACKSLASH_HINT, ZIP_FALLBACK))


def _literal_backslashes(out: Unpacked, path: str, zf: zipfile.ZipFile) -> None:
    """Backslashed names in a zip not from MS-DOS: unzip keeps the `\\` as part of one file
    name, silently, so `scripts\\start.sh` is a file at the root and scripts/ has nothing."""
    named = [i.filename for i in zf.infolist()
             if "\\" in i.filename and "/" not in i.filename and
             ".." not in i.filename.split("\\")]  # `..\\x` is AK406's
    if not named:
        return
    more = f" and {len(named) - 1} more" if len(named) > 1 else ""
    out.findings.append(Finding(
        WARNING, "AK413", f"{path}:{named[0]}", None, None,
        f"member {named[0]!r}{more} {'use' if more else 'uses'} '\\' as the path separator: "
        f"unzip on Linux takes it as part of the name and extracts a file named "
        f"{named[0]!r} at the bundle's root, not {named[0].replace(chr(92), '/')!r}",
        _BACKSLASH_HINT))


def _zip_member_problem(info: zipfile.ZipInfo, exc: BaseException) -> str:
    if info.flag_bits & 0x1:
        return (f"member {info.filename!r} is encrypted (unzip skips it, asking for a password "
                "no one gives)")
    if isinstance(exc, NotImplementedError):
        return (f"member {info.filename!r} uses compression method {info.compress_type}, "
                "which unzip does not support")
    return f"member {info.filename!r} is damaged ({exc})"


def _zip_failed(out: Unpacked, path: str, exc: BaseException) -> None:
    """unzip fails, then the agent's rubyzip fallback (command_executor.rb#unpack_bundle),
    whose message is the deployment's error. Without the end of the central directory (a
    truncated upload) that message is known; for other damage verify cannot tell rubyzip's
    exact words and says so."""
    if str(exc) == "File is not a zip file":
        out.failure = RUBYZIP_NOT_ZIP
        why = "it has no end of central directory (truncated, or not a zip)"
    else:
        out.failure = f"Error extracting zip archive: {_short(str(exc))}"
        why = (f"{_short(str(exc))}; the agent's error is rubyzip's message for this damage, "
               "which verify cannot tell exactly")
    out.findings.append(Finding(ERROR, "AK400", path, None, None,
                                f"unzip and the agent's rubyzip fallback cannot read the "
                                f"archive: {why}", "rebuild the archive; check the upload was "
                                "complete", out.failure))


def _zip_name(out: Unpacked, path: str, info: zipfile.ZipInfo) -> str:
    """The member's path as unzip 6.0 makes it: backslashes are separators only in a name
    from MS-DOS (FAT) without a `/` (unzip's "appears to use backslashes"), else part of a
    file name; `..`, `.` and leading `/` are dropped."""
    given = info.filename
    dos = _dos_backslashed(info)
    name = given.replace("\\", "/") if dos else given
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    if ".." in name.split("/") or name.startswith("/"):
        out.findings.append(Finding(
            WARNING, "AK406", f"{path}:{given}", None, None,
            f"member {given!r} climbs out of the bundle; unzip silently strips the '../' and "
            f"'/' and extracts it as {'/'.join(parts)!r}", "build the zip from inside the bundle"))
    elif ".." in name.replace("\\", "/").split("/"):
        out.findings.append(Finding(
            WARNING, "AK406", f"{path}:{given}", None, None,
            f"member {given!r} climbs out of the bundle on Windows ('..\\'); unzip on Linux "
            "takes its backslashes as part of one file name and extracts it as "
            f"{'/'.join(parts)!r}", "build the zip from inside the bundle, with '/' as the "
            "separator"))
    return "/".join(parts)


AGENT_UMASK = 0o022  # the agent's service runs with systemd's default umask


def _copy_dir(out: Unpacked, src: str) -> None:
    """A directory bundle, as the agent copies it: `FileUtils.cp_r` without :preserve
    (command_executor.rb#handle_local_directory): files keep their mode less the agent's umask,
    directories are made 0755, links stay links, times are the copy's."""
    stack = [""]  # directories to copy, relative to src; iterative: any depth
    while stack:
        rel_root = stack.pop()
        try:
            with os.scandir(os.path.join(src, rel_root)) as it:
                names = sorted(e.name for e in it)
        except OSError as exc:
            raise _unreadable(src, rel_root, exc) from None
        for name in names:
            rel = os.path.join(rel_root, name)
            s, d = os.path.join(src, rel), os.path.join(out.dest, rel)
            out.members += 1
            st = os.lstat(s)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISDIR(st.st_mode):
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o777 & ~AGENT_UMASK)
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode):
                out.written += st.st_size
                if out.written > out.limit:
                    _too_big(out, src, rel)
                    return
                try:
                    shutil.copyfile(s, d, follow_symlinks=False)
                except PermissionError as exc:
                    raise _unreadable(src, rel, exc) from None
                os.chmod(d, stat.S_IMODE(st.st_mode) & ~AGENT_UMASK)


def _unreadable(src: str, rel: str, exc: OSError) -> BadInput:
    where = os.path.join(src, rel) if rel else src
    return BadInput(f"{where}: cannot be read ({exc.strerror}). verify copies a bundle "
                    "directory as the agent does, and the agent reads it as root: run verify "
                    "as a user who can read every file of the bundle, or make them readable "
                    f"(chmod -R a+rX {src}).")


def strip_single_top_dir(dest: str) -> str | None:
    """The agent's rule: one top-level entry, a directory holding a name matching /appspec/i."""
    entries = os.listdir(dest)
    if len(entries) != 1:
        return None
    top = os.path.join(dest, entries[0])
    if not os.path.isdir(top) or not any("appspec" in n.lower() for n in os.listdir(top)):
        return None
    tmp = dest + "-temp"
    os.rename(dest, tmp)
    os.rename(os.path.join(tmp, entries[0]), dest)
    os.rmdir(tmp)
    return entries[0]


def unpack(path: str, dest: str, declared: str | None, generation: str,
           lean: bool = False, db: sqlite3.Connection | None = None,
           hashing: bool = True, limit: int = 1 << 62) -> Unpacked:
    """Unpack as the agent would. `lean` (verify --no-install): only the appspec and the
    hook scripts are written; the other files are read and listed as unwritten. `db`: the
    store to keep per-member records and digests in (default: one in memory); `hashing`: hash
    every file on the way (the report's tree shows digests)."""
    kind = archive.content_kind(path)
    if kind == "unknown" and declared is None:
        raise BadArchive(f"{path}: not a tar, tar.gz, zip or directory (unknown content). "
                         "Pass --type to say how CodeDeploy is told to read it.")
    out = Unpacked(dest, declared or archive.bundle_type(kind), kind,
                   db=db if db is not None else store.connect(":memory:"), limit=limit)
    os.makedirs(dest, exist_ok=True)
    if out.declared == "directory":
        if kind != "directory":
            raise BadArchive(f"{path}: --type directory needs a directory.")
        _copy_dir(out, path)
    elif out.declared == "zip":
        _unzip(out, path)
    else:
        _untar(out, path, generation, lean, hashing)
    if out.failure is None and out.too_big is None:
        out.listing.flush()
        # only archives: a directory bundle is copied as it is (command_executor.rb)
        out.stripped = None if out.declared == "directory" else strip_single_top_dir(dest)
        if out.stripped:
            out.listing.prefix = out.stripped + "/"
    return out
