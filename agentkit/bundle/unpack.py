"""DownloadBundle: unpack an archive into deployment-archive as the agent would, but safely.

1.x runs `/bin/tar -xpsf` (tgz: `-zxpsf`) or `unzip -qo`, falling back to rubyzip
(lib/instance_agent/platform/linux_util.rb, command_executor.rb#unpack_bundle); 2.x runs
`tar -xf`/`-xzf` or `unzip -o` and falls back to the Rust tar/zip crates
(host_command/bundle_unpacker.rs). We write every member ourselves so that nothing can land
outside `dest`: names are normalised as GNU tar does (leading `/` dropped, `..` refused),
symlinks are created only after every other member (GNU tar's delayed links, kept for all
links), devices and fifos are never created, hard links must point at a file already
extracted here. What the agent itself would have done with each such member is a finding.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field

from agentkit.bundle import archive, tarstream
from agentkit.errors import BadArchive
from agentkit.findings import ERROR, WARNING, Finding

TAR_FAILED = "Error extracting tar archive: 2"
RUBYZIP_NOT_ZIP = "Zip end of central directory signature not found"


@dataclass
class Unpacked:
    dest: str
    declared: str
    content: str
    failure: str | None = None  # the agent's DownloadBundle error, verbatim
    findings: list[Finding] = field(default_factory=list)
    stripped: str | None = None  # the single top-level directory the agent strips
    members: int = 0
    owners: dict[str, tuple[int, int, str, str]] = field(default_factory=dict)
    # --no-install: regular files read but not written (checks need only their names)
    unwritten: set[str] = field(default_factory=set)
    # sha256 of each extracted file, computed on the way in: (dev, ino, size, mtime_ns) -> hex
    digests: dict[tuple[int, int, int, int], str] = field(default_factory=dict)


class _TarWriter:
    """Receives tar members and writes them under dest the way GNU tar -xp would."""

    def __init__(self, out: Unpacked, archive_path: str, generation: str,
                 lean: bool = False) -> None:
        self.lean = lean
        self.wanted: set[str] | None = None  # lean: hook scripts, once the appspec is read
        self.buffer: dict[str, tuple[bytearray, int, int]] = {}
        self.buffered = 0
        self.out = out
        self.dest = out.dest
        self.archive = archive_path
        self.generation = generation
        self.links: dict[str, str] = {}  # rel path -> target, created at the end
        self.dirs: list[tuple[str, int, int]] = []  # modes applied at the end, like tar
        self.refused = False
        self.open_path = ""
        # dest starts empty, so only names seen before can exist: no stat for the rest.
        self.seen: set[str] = set()
        self.made_dirs: set[str] = {self.dest}

    def _parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self.made_dirs:
            os.makedirs(parent, exist_ok=True)
            while parent not in self.made_dirs:
                self.made_dirs.add(parent)
                parent = os.path.dirname(parent)

    def _clear(self, rel: str, path: str) -> None:
        if rel in self.seen:
            _unlink_if_not_dir(path)
        self.seen.add(rel)

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

    def _through_link(self, rel: str, name: str) -> str | None:
        """Follow in-bundle relative links in the parent path as tar would; refuse others."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            target = self.links.get(prefix)
            if target is None:
                continue
            if target.startswith("/") or ".." in target.split("/"):
                self.refuse("AK405", name, f"member {name!r} would be written through the "
                            f"symlink {prefix!r} -> {target!r}, outside the bundle",
                            "do not put files under a symlinked directory in the archive")
                return None
            base = os.path.dirname(prefix)
            resolved = os.path.normpath(os.path.join(base, target, *parts[i:]))
            return self._through_link(resolved, name)
        return rel

    def member(self, m: tarstream.Member) -> tarstream.Sink:
        self.out.members += 1
        rel = self._normalise(m.name)
        if not rel:
            return None
        rel2 = self._through_link(rel, m.name)
        if rel2 is None:
            return None
        rel = rel2
        path = os.path.join(self.dest, rel)
        self.links.pop(rel, None)  # a later member replaces an earlier link of that name
        if m.uid or m.gid:
            self.out.owners[rel] = (m.uid, m.gid, m.uname, m.gname)
        if m.kind == "dir":
            self._parent(os.path.join(path, "."))
            self.seen.add(rel)
            self.dirs.append((path, m.mode & 0o7777, m.mtime))
            return None
        self._parent(path)
        if m.kind == "symlink":
            self.links[rel] = m.linkname
            return None
        if m.kind == "hardlink":
            self._hardlink(m, rel, path)
            return None
        if m.kind in ("chardev", "blockdev", "fifo", "other"):
            self.finding(WARNING, "AK403", m.name, f"member {m.name!r} is a {m.kind}; the agent "
                         "(as root) creates it on the instance, verify does not",
                         "remove device files and fifos from the bundle")
            return None
        if self.lean and not _is_appspec(rel):
            return self._lean(m, rel)
        return self._open(rel, path)

    def _open(self, rel: str, path: str) -> int:
        self._clear(rel, path)
        self.out.unwritten.discard(rel)
        self.open_path = path
        # O_EXCL, not O_TRUNC: ext4 flushes a file truncated on open when it is closed
        # (auto_da_alloc), which made every member cost a disk write-back.
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)

    def _lean(self, m: tarstream.Member, rel: str) -> tarstream.Sink:
        """--no-install writes only the appspec and the hook scripts. Until the appspec has
        been read, small files wait in a bounded buffer in case they are scripts."""
        if self.wanted is not None and rel in self.wanted:
            return self._open(rel, os.path.join(self.dest, rel))
        self.out.unwritten.add(rel)
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
        from agentkit.appspec.source import read_source

        spec = lint_source(read_source(os.path.join(self.dest, appspec_rel))).appspec
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
                    os.utime(fd, (mtime, mtime))
                finally:
                    os.close(fd)
        self.buffer.clear()

    def _hardlink(self, m: tarstream.Member, rel: str, path: str) -> None:
        target = self._normalise(m.linkname)
        source = os.path.join(self.dest, target) if target else None
        if source is None or not os.path.isfile(source) or os.path.islink(source):
            if target is not None:
                self.refuse("AK404", m.name, f"hard link {m.name!r} -> {m.linkname!r} does not "
                            "point at a file extracted before it", "archive the file itself")
            return
        self._clear(rel, path)
        os.link(source, path)

    def done(self, m: tarstream.Member, fd: int | bytearray, digest: str | None) -> None:
        if isinstance(fd, bytearray):
            return  # buffered (lean): written once the appspec says it is a script
        try:
            os.fchmod(fd, m.mode & 0o7777)
            os.utime(fd, (m.mtime, m.mtime))
            if digest is not None:
                st = os.fstat(fd)
                self.out.digests[(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)] = digest
        finally:
            os.close(fd)
        rel = os.path.relpath(self.open_path, self.dest)
        if self.lean and self.wanted is None and _is_appspec(rel):
            self._learn(rel)

    def finish(self) -> None:
        for rel, target in self.links.items():
            path = os.path.join(self.dest, rel)
            _unlink_if_not_dir(path)
            os.symlink(target, path)
        for path, mode, mtime in reversed(self.dirs):
            os.chmod(path, mode | stat.S_IWUSR | stat.S_IXUSR)
            os.utime(path, (mtime, mtime))


LEAN_FILE = 64 << 10  # hook scripts are small
LEAN_BUFFER = 32 << 20  # what may wait in memory for the appspec to arrive


def script_rel(location: str) -> str:
    """A hook location as a path inside the bundle (the agent joins it to the archive root)."""
    return os.path.normpath(location.lstrip("/"))


def _is_appspec(rel: str) -> bool:
    return rel.count("/") <= 1 and os.path.basename(rel) in ("appspec.yml", "appspec.yaml")


def _unlink_if_not_dir(path: str) -> None:
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _untar(out: Unpacked, path: str, generation: str, lean: bool) -> None:
    writer = _TarWriter(out, path, generation, lean)
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
            tarstream.read(stream, writer.member, writer.done)
    except (tarstream.TarError, EOFError, OSError, ValueError) as exc:
        out.failure = TAR_FAILED
        out.findings.append(Finding(ERROR, "AK400", path, None, None,
                                    f"tar cannot read the archive: {exc}",
                                    "rebuild the archive; check the upload was complete",
                                    TAR_FAILED))
        return
    writer.finish()
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
            links = []
            for info in zf.infolist():
                out.members += 1
                rel = _zip_name(out, path, info.filename)
                if not rel:
                    continue
                target = os.path.join(out.dest, rel)
                mode = info.external_attr >> 16
                if info.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if stat.S_ISLNK(mode):
                    links.append((target, zf.read(info).decode("utf-8", "surrogateescape")))
                    continue
                _unlink_if_not_dir(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                             0o600)
                with os.fdopen(fd, "wb") as dst, zf.open(info) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.chmod(target, (mode & 0o7777) or 0o644)
            for target, link in links:
                _unlink_if_not_dir(target)
                os.symlink(link, target)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        out.failure = f"Error extracting zip archive: 9 ({exc})"
        out.findings.append(Finding(ERROR, "AK400", path, None, None,
                                    f"unzip cannot read the archive: {exc}",
                                    "rebuild the archive", out.failure))


def _zip_name(out: Unpacked, path: str, name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if ".." in name.split("/") or name.startswith("/"):
        out.findings.append(Finding(
            WARNING, "AK406", f"{path}:{name}", None, None,
            f"member {name!r} climbs out of the bundle; unzip silently strips the '../' and '/' "
            f"and extracts it as {'/'.join(parts)!r}", "build the zip from inside the bundle"))
    return "/".join(parts)


def _copy_dir(out: Unpacked, src: str) -> None:
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        for name in dirs + files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            s, d = os.path.join(src, rel), os.path.join(out.dest, rel)
            out.members += 1
            st = os.lstat(s)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISDIR(st.st_mode):
                os.makedirs(d, exist_ok=True)
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(s, d, follow_symlinks=False)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


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
           lean: bool = False) -> Unpacked:
    """Unpack as the agent would. `lean` (verify --no-install): only the appspec and the
    hook scripts are written; the other files are read and listed in `unwritten`."""
    kind = archive.content_kind(path)
    if kind == "unknown" and declared is None:
        raise BadArchive(f"{path}: not a tar, tar.gz, zip or directory (unknown content). "
                         "Pass --type to say how CodeDeploy is told to read it.")
    out = Unpacked(dest, declared or archive.bundle_type(kind), kind)
    os.makedirs(dest, exist_ok=True)
    if out.declared == "directory":
        if kind != "directory":
            raise BadArchive(f"{path}: --type directory needs a directory.")
        _copy_dir(out, path)
    elif out.declared == "zip":
        _unzip(out, path)
    else:
        _untar(out, path, generation, lean)
    if out.failure is None:
        out.stripped = strip_single_top_dir(dest)
        if out.stripped and out.unwritten:
            cut = len(out.stripped) + 1
            out.unwritten = {p[cut:] for p in out.unwritten if p.startswith(out.stripped + "/")}
    return out
