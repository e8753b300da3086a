"""A revision archive made so that the same tree gives the same bytes: members sorted, one
mtime for all, owner 0:0 without names, modes normalised (0644 / 0755, directories 0755), no
`./` root entry (its mode would become deployment-archive's: AK410), gzip without its
timestamp or file name. The files are streamed: memory does not grow with the bundle.

What the agent would get wrong is refused while walking, each with the finding verify
gives: a link out of the bundle (AK511 absolute, AK513 escaping; its target is copied on
every instance, or dangles), a link to a directory of the bundle (AK510: copied, not
linked), a device or fifo (AK403).
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import time
import zipfile
from collections.abc import Iterator
from typing import IO, NamedTuple

from agentkit import environ
from agentkit.errors import BadInput

EXCLUDED = (".git",)  # version control, never part of a release
ZIP_EPOCH = 315532800  # 1980-01-01: the earliest time a zip entry can hold


class Member(NamedTuple):
    rel: str  # path inside the bundle, "/"-separated
    path: str  # on this machine
    kind: str  # dir, file, symlink
    mode: int  # normalised
    target: str = ""  # a symlink's


def _normal_mode(st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        return 0o755
    return 0o755 if st.st_mode & 0o111 else 0o644


def _outside(rel: str, target: str) -> bool:
    if target.startswith("/"):
        return True
    depth = rel.count("/")
    for part in target.split("/"):
        depth += -1 if part == ".." else 0 if part in ("", ".") else 1
        if depth < 0:
            return True
    return False


def walk(top: str, allow_external_links: bool) -> Iterator[Member]:
    """Every member below `top`, each directory's names sorted by their bytes, a directory's
    content right after it (GNU tar's --sort=name); iterative, at any depth."""
    stack = [iter(_listing("", top))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        rel, path = item
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            yield _link(rel, path, allow_external_links)
        elif stat.S_ISDIR(st.st_mode):
            yield Member(rel, path, "dir", 0o755)
            stack.append(iter(_listing(rel + "/", path)))
        elif stat.S_ISREG(st.st_mode):
            yield Member(rel, path, "file", _normal_mode(st))
        else:
            raise BadInput(f"{path}: a device or fifo (AK403): the agent creates it as root on "
                           "every instance; remove it from the tree.")


def _listing(rel_dir: str, directory: str) -> list[tuple[str, str]]:
    try:
        names = sorted(os.listdir(directory), key=os.fsencode)
    except OSError as exc:
        raise BadInput(f"{directory}: cannot be read ({exc.strerror}); the bundle needs every "
                       "file of the tree.") from None
    return [(f"{rel_dir}{n}", os.path.join(directory, n)) for n in names
            if rel_dir or n not in EXCLUDED]


def _link(rel: str, path: str, allowed: bool) -> Member:
    target = os.readlink(path)
    if _outside(rel, target) and not allowed:
        code = "AK511" if target.startswith("/") else "AK513"
        raise BadInput(f"{path} -> {target}: a link out of the bundle ({code}): the agent "
                       "installs it as it is, and a link to a directory copies whatever the "
                       "target holds on each instance (shared storage included). Ship the "
                       "files, make the link in a hook (agentkit hook link-shared), or pass "
                       "--allow-external-links to keep it.")
    if os.path.isdir(path) and not _outside(rel, target):
        # installer.rb#generate_directory_copy follows it: a copy, not a link, on the instance
        raise BadInput(f"{path} -> {target}: a link to a directory (AK510): the agent copies "
                       "the directory's content in its place instead of installing the link. "
                       "Ship the directory itself, or make the link in a hook (AfterInstall).")
    return Member(rel, path, "symlink", 0o777, target)


def source_date(top: str, given: int | None) -> int:
    """The one mtime: --mtime, else $SOURCE_DATE_EPOCH, else the tree's last commit."""
    from agentkit import proc

    if given is not None:
        return given
    env = environ.get("SOURCE_DATE_EPOCH")
    if env:
        if not env.isdigit():
            raise BadInput(f"SOURCE_DATE_EPOCH={env!r}: expected seconds since 1970 "
                           "(reproducible-builds.org), e.g. $(git log -1 --format=%ct).")
        return int(env)
    if proc.which("git"):
        done = proc.run(["git", "-C", top, "log", "-1", "--format=%ct"])
        if done.returncode == 0 and done.stdout.strip().isdigit():
            return int(done.stdout.strip())
    return ZIP_EPOCH


def _read(path: str) -> IO[bytes]:
    """A file of the tree, opened to be archived."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror}); the bundle needs every file "
                       "of the tree: make it readable (chmod a+r), or remove it.") from None


def write_tgz(out: IO[bytes], members: Iterator[Member], mtime: int) -> int:
    count = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.rel)
            info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = \
                mtime, m.mode, 0, 0, "", ""
            if m.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif m.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, m.target
                tar.addfile(info)
            else:
                with _read(m.path) as f:
                    info.size = os.fstat(f.fileno()).st_size
                    tar.addfile(info, f)
            count += 1
    return count


def write_zip(out: IO[bytes], members: Iterator[Member], mtime: int) -> int:
    stamp = time.gmtime(max(mtime, ZIP_EPOCH))[:6]
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            name = m.rel + ("/" if m.kind == "dir" else "")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # unix: unzip restores the modes and links
            kind = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}.get(m.kind, stat.S_IFREG)
            info.external_attr = (kind | m.mode) << 16
            if m.kind == "file":
                info.compress_type = zipfile.ZIP_DEFLATED
                with _read(m.path) as src, zf.open(info, "w") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        dst.write(chunk)
            else:
                zf.writestr(info, m.target if m.kind == "symlink" else b"")
            count += 1
    return count
