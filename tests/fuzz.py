"""Property-based inputs for verify and lint (tests/commands/*_fuzz_test.py): tar, tar.gz and
zip archives, bundle directories and appspecs drawn at random, and the one invariant every run
must keep whatever it is given.

Names and link targets come from a small alphabet rich in what breaks readers: `.`, `..`, `/`,
`\\`, NUL, bytes that are not UTF-8, very long and very deep names, repeats, loops, links to a
"host" file that must never change. tar headers are written by hand, so a member can carry a
PAX name that disagrees with its GNU long name, a base-256 or negative size, an odd type, data
shorter than its size. Appspecs are drawn from the schema's keys (agentkit/appspec/schema.py)
and then mutated, as data and as text.

The invariant (`Outcome.check`): exit 0, 1, 2 or 4 (undetermined); no traceback; a whole JSON
report, or a one-paragraph `agentkit: error:` and nothing else; within TIME_LIMIT; nothing left
in TMPDIR; the host sentinel (a file and a directory the inputs point links at) unchanged.

Settings: in CI, `derandomize=True` and `database=None` (the same examples on every machine,
nothing written to the tree), few examples; `./dev fuzz --minutes N` sets AGENTKIT_FUZZ=long and
runs the same properties again and again, each run with a fresh seed (logged) and twice the
examples (print_blob: a failure prints the @reproduce_failure line that replays it).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import stat
import struct
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from agentkit import events, fstree
from agentkit.cli import main

LONG = os.environ.get("AGENTKIT_FUZZ") == "long"
TIME_LIMIT = 30.0  # seconds one run of verify or lint may take
EXITS = (0, 1, 2, 4)  # 4: verify's undetermined (README: hooks not run here)


def fuzz_settings(ci_examples: int) -> settings:
    """CI: a fixed, small budget; `./dev fuzz`: many examples, fresh seeds."""
    common: dict[str, Any] = {"deadline": None, "suppress_health_check": list(HealthCheck)}
    if LONG:
        return settings(max_examples=ci_examples * 2, derandomize=False, database=None,
                        print_blob=True, **common)
    return settings(max_examples=ci_examples, derandomize=True, database=None, **common)


# --- the host sentinel ---------------------------------------------------------------------
HOST = "host"  # in each example's directory: what links point at, and what must not change


def host_paths(root: Path) -> tuple[str, str]:
    return str(root / HOST / "victim"), str(root / HOST / "dir")


def make_host(root: Path) -> None:
    victim, directory = host_paths(root)
    os.makedirs(directory)
    Path(victim).write_text("version: 0.0\nos: linux\nHOST-SECRET: 1\n")
    (Path(directory) / "inside").write_text("host file\n")
    for path in (victim, os.path.join(directory, "inside")):
        os.chmod(path, 0o640)
        os.utime(path, (1000000, 1000000))
    os.utime(directory, (1000000, 1000000))


def host_state(root: Path) -> list[tuple[str, int, int, int, str]]:
    out = []
    for path in sorted((root / HOST).rglob("*")):
        st_ = os.lstat(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out.append((str(path), st_.st_mode, int(st_.st_mtime), st_.st_uid, digest))
    return out


# --- names ------------------------------------------------------------------------------------
COMPONENTS = ["a", "b", "d", "s", ".", "..", "", "run.sh", "appspec.yml", "x" * 120, "ü",
              "a\\..\\b", "..\\", "\\", "sp ace", "a\x00b", "\udcff", "-n"]


@st.composite
def names(draw: st.DrawFn) -> str:
    """A member name: a few components, or a very deep one, with odd leads and tails."""
    if draw(st.integers(0, 19)) == 0:
        depth = draw(st.sampled_from([50, 1000, 2100]))
        return "d/" * depth + draw(st.sampled_from(["f", "", "run.sh"]))
    parts = draw(st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4))
    lead = draw(st.sampled_from(["", "", "", "/", "./", "//"]))
    tail = draw(st.sampled_from(["", "", "", "/"]))
    return lead + "/".join(parts) + tail


def targets(root: Path) -> st.SearchStrategy[str]:
    victim, directory = host_paths(root)
    return st.one_of(names(), st.sampled_from([
        "a", "b", "d", ".", "..", "a/b", "../x", "s", "run.sh", "appspec.yml", victim, directory,
        directory + "/new", directory + "/../victim", "a/../a", "", "l0", "l1"]))


SCRIPTS = [b"#!/bin/sh\necho ok\n", b"#!/bin/sh\r\necho crlf\r\n", b"echo no shebang\n",
           b"\xef\xbb\xbf#!/bin/sh\n", b"#!/nonexistent/interpreter\n", b"", b"\x00" * 64,
           b"#!/bin/sh\nexit 3\n"]


# --- appspecs ---------------------------------------------------------------------------------
def _scalar() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(
        allow_nan=False, allow_infinity=False, width=32), st.text(max_size=12),
        st.sampled_from(["0.0", "linux", "windows", "644", "0644", "root", "**", "/", "run.sh",
                         "a/b", "file", "directory", "DISALLOW", "OVERWRITE", "RETAIN"]))


@st.composite
def appspec_data(draw: st.DrawFn, dest: str) -> Any:
    """An appspec as data: the schema's keys with plausible values, then mutations (keys
    dropped, unknown or misspelt, values of the wrong shape)."""
    script = st.fixed_dictionaries({"location": st.sampled_from(["run.sh", "s/run.sh", "/run.sh",
                                                                 "missing.sh", "run.sh arg",
                                                                 "../x", "appspec.yml", "l0"])},
                                   optional={"timeout": st.one_of(st.integers(-1, 4000),
                                                                  _scalar()),
                                             "runas": st.sampled_from(["root", "", "nobody",
                                                                       "no-such-user"]),
                                             "sudo": _scalar()})
    hooks = st.dictionaries(st.sampled_from([*events.SCRIPTED, "Install", "DownloadBundle",
                                             "AllowTraffic", "afterinstall", "Bogus"]),
                            st.one_of(st.lists(script, max_size=3), _scalar()), max_size=4)
    files = st.lists(st.fixed_dictionaries(
        {"source": st.sampled_from(["/", "a", "run.sh", "d", "missing", "l0", "../x", "*"]),
         "destination": st.sampled_from([dest, dest + "/sub", dest + "/app.conf", "relative",
                                         dest + " " + dest])}), max_size=3)
    permissions = st.lists(st.fixed_dictionaries(
        {"object": st.sampled_from([dest, dest + "/sub", "/", ""])},
        optional={"pattern": st.sampled_from(["**", "*.sh", "a/b"]),
                  "mode": st.one_of(st.sampled_from(["644", "0755", "9", 644, 420]), _scalar()),
                  "owner": st.sampled_from(["root", "nobody", "no-such-user"]),
                  "type": st.sampled_from([["file"], ["directory"], "file", []]),
                  "acls": st.sampled_from([["u:nobody:rw"], ["bad"], "x"]),
                  "context": st.sampled_from([{"type": "t"}, {"name": "n"}, "x"])}),
        max_size=2)
    spec: dict[Any, Any] = draw(st.fixed_dictionaries(
        {"version": st.sampled_from([0.0, 0.0, 0.0, "0.0", 1, None]),
         "os": st.sampled_from(["linux", "linux", "windows", "Linux", None])},
        optional={"files": st.one_of(files, _scalar()), "hooks": st.one_of(hooks, _scalar()),
                  "permissions": st.one_of(permissions, _scalar()),
                  "file_exists_behavior": _scalar()}))
    for _ in range(draw(st.integers(0, 3))):
        mutation = draw(st.sampled_from(["drop", "unknown", "shape", "event-on-top"]))
        if mutation == "drop" and spec:
            spec.pop(draw(st.sampled_from(sorted(spec, key=str))))
        elif mutation == "unknown":
            spec[draw(st.sampled_from(["extra", "Files", "hook", "version "]))] = draw(_scalar())
        elif mutation == "shape" and spec:
            spec[draw(st.sampled_from(sorted(spec, key=str)))] = draw(
                st.one_of(_scalar(), st.lists(_scalar(), max_size=2),
                          st.dictionaries(st.text(max_size=4), _scalar(), max_size=2)))
        elif mutation == "event-on-top":
            spec["AfterInstall"] = [{"location": "run.sh"}]
    return draw(st.one_of(st.just(spec), st.just(spec), st.just(spec), _scalar(),
                          st.lists(st.just(spec), max_size=2)))


@st.composite
def appspec_texts(draw: st.DrawFn, dest: str) -> bytes:
    """The appspec as bytes: YAML of the data, then text mutations (BOM, CRLF, tabs, an
    anchor and alias, a duplicate key, a cut, a byte that is not UTF-8, very long)."""
    text = yaml.safe_dump(draw(appspec_data(dest)), default_flow_style=draw(st.booleans()),
                          allow_unicode=True)
    for _ in range(draw(st.integers(0, 3))):
        mutation = draw(st.sampled_from(["bom", "crlf", "tab", "alias", "dup", "cut", "byte",
                                         "long", "quote-version", "octal", "nul"]))
        if mutation == "bom":
            text = "\ufeff" + text
        elif mutation == "crlf":
            text = text.replace("\n", "\r\n")
        elif mutation == "tab":
            text = text.replace("  ", "\t", 1)
        elif mutation == "alias":
            text = "x: &a [1, 2]\ny: *a\n" + text
        elif mutation == "dup":
            text += "version: 0.0\n"
        elif mutation == "cut" and text:
            text = text[:draw(st.integers(0, len(text)))]
        elif mutation == "byte":
            at = draw(st.integers(0, len(text)))
            return (text[:at].encode() + b"\xff\xfe" + text[at:].encode())
        elif mutation == "long":
            text += "# " + "x" * (1 << 16) + "\n"
        elif mutation == "quote-version":
            text = text.replace("version: 0.0", "version: '0.0'")
        elif mutation == "octal":
            text += "permissions:\n  - object: /\n    mode: 0644\n"
        elif mutation == "nul":
            text = text.replace("linux", "lin\x00ux")
    return text.encode("utf-8", "surrogateescape")


# --- tar archives -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TarMember:
    name: str
    type: bytes  # the typeflag
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    pax: tuple[tuple[str, str], ...] = ()  # records of an `x` header before it
    gnu_name: str | None = None  # an `L` header before it
    gnu_link: str | None = None  # a `K` header before it
    size_field: bytes | None = None  # the raw 12-byte size field, instead of the data's size
    uid: int = 0


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}"[-(width - 1):].encode() + b"\0"


def _header(name: bytes, size: int, typeflag: bytes, mode: int = 0o644, link: bytes = b"",
            size_field: bytes | None = None, uid: int = 0) -> bytes:
    block = bytearray(512)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = _octal(mode & 0o7777777, 8)
    block[108:116] = _octal(uid, 8)
    block[116:124] = _octal(0, 8)
    block[124:136] = size_field if size_field is not None else _octal(size, 12)
    block[136:148] = _octal(1700000000, 12)
    block[156:157] = typeflag[:1]
    block[157:257] = link[:100].ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = _octal(sum(block), 7) + b" "
    return bytes(block)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def _pax_records(records: Sequence[tuple[str, str]]) -> bytes:
    out = b""
    for key, value in records:
        body = b" " + _enc(key) + b"=" + _enc(value) + b"\n"
        size = len(body) + 1
        while len(str(size).encode()) + len(body) != size:
            size = len(str(size).encode()) + len(body)
        out += str(size).encode() + body
    return out


def tar_bytes(members: Sequence[TarMember], end: bool = True) -> bytes:
    out = bytearray()
    for m in members:
        name, link = _enc(m.name), _enc(m.link)
        gnu_name = _enc(m.gnu_name) if m.gnu_name is not None else (
            name if len(name) > 100 else None)
        gnu_link = _enc(m.gnu_link) if m.gnu_link is not None else (
            link if len(link) > 100 else None)
        if gnu_name is not None:
            out += _header(b"././@LongLink", len(gnu_name) + 1, b"L") + _pad(gnu_name + b"\0")
        if gnu_link is not None:
            out += _header(b"././@LongLink", len(gnu_link) + 1, b"K") + _pad(gnu_link + b"\0")
        if m.pax:
            records = _pax_records(m.pax)
            out += _header(b"PaxHeader/x", len(records), b"x") + _pad(records)
        out += _header(name, len(m.data), m.type, m.mode, link, m.size_field, m.uid)
        out += _pad(m.data)
    if end:
        out += bytes(1024)
    return bytes(out)


@st.composite
def tar_members(draw: st.DrawFn, root: Path, spec: bytes) -> list[TarMember]:
    out = []
    if draw(st.integers(0, 9)):
        out.append(TarMember(draw(st.sampled_from(["appspec.yml", "appspec.yml", "./appspec.yml",
                                                   "top/appspec.yml", "appspec.yaml"])),
                             b"0", spec))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from([b"0", b"0", b"5", b"2", b"2", b"1", b"S", b"3", b"6",
                                     b"7", b"\0", b"Z", b"g"]))
        name = draw(names())
        data = draw(st.sampled_from(SCRIPTS)) if kind in (b"0", b"7", b"\0", b"S") else b""
        link = draw(targets(root)) if kind in (b"1", b"2") else ""
        extra: dict[str, Any] = {}
        oddity = draw(st.integers(0, 11))
        if oddity == 0:
            extra["pax"] = (("path", draw(names())),)
        elif oddity == 1:
            extra["pax"] = (("path", draw(names())),)
            extra["gnu_name"] = draw(names())
        elif oddity == 2:
            extra["gnu_name"] = draw(names())
        elif oddity == 3:
            extra["pax"] = (("linkpath", draw(targets(root))),)
        elif oddity == 4:
            extra["size_field"] = draw(st.sampled_from([
                b"\x80" + bytes(10) + bytes([len(data) & 0xFF]), b"\xff" * 12,
                b"\x80" + b"\x7f" * 11, _octal(len(data) + 512, 12), b"garbage!!!!\0"]))
        elif oddity == 5:
            extra["pax"] = (draw(st.sampled_from([
                ("size", "1e400"), ("size", "99999999999"), ("mtime", "nan"), ("uid", "-1"),
                ("mtime", "1e400"), ("path", "a\x00b/c"), ("GNU.sparse.name", "/abs/x"),
                ("uid", "4294967296"), ("gname", "\udcff")])),)
        elif oddity == 6:
            extra["uid"] = draw(st.sampled_from([1000, 65534, 2097151]))
        mode = draw(st.sampled_from([0o644, 0o755, 0o000, 0o4755, 0o777, 0o1777, 0o500]))
        out.append(TarMember(name, kind, data, link, mode, **extra))
    if draw(st.integers(0, 3)) == 0:  # a loop with a member beneath, as they come in the wild
        target = draw(st.sampled_from(["l0", "l1", "l0/x"]))
        out[len(out) // 2:len(out) // 2] = [TarMember("l0", b"2", link=target), TarMember(
            "l1", b"2", link="l0"), TarMember("l0/f", b"0", b"x")]
    if draw(st.integers(0, 5)) == 0 and out:  # a repeat: the same name again, another kind
        again = draw(st.sampled_from(out))
        out.append(TarMember(again.name, draw(st.sampled_from([b"0", b"5", b"2"])),
                             link="a"))
    return draw(st.permutations(out)) if draw(st.integers(0, 3)) == 0 else out


@dataclass(frozen=True)
class TarArchive:
    """An archive as its members and damage (what a failing example prints), and its bytes."""

    members: tuple[TarMember, ...]
    end: bool  # the two zero blocks that end it
    damage: tuple[str, float] | None  # ("cut" | "flip", where as a fraction of its length)
    gz: bool
    gz_cut: float | None  # the compressed stream cut there

    @property
    def suffix(self) -> str:
        return ".tgz" if self.gz else ".tar"

    def data(self) -> bytes:
        raw = tar_bytes(self.members, self.end)
        raw = _damaged(raw, self.damage)
        if not self.gz:
            return raw
        packed = gzip.compress(raw, mtime=0)
        return packed if self.gz_cut is None else packed[:int(len(packed) * self.gz_cut)]


def _damaged(raw: bytes, damage: tuple[str, float] | None) -> bytes:
    if damage is None or not raw:
        return raw
    what, where = damage
    at = min(int(len(raw) * where), len(raw) - 1)
    if what == "cut":
        return raw[:at]
    if what == "flip":
        return raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]
    return raw


_DAMAGE = st.one_of(*[st.none()] * 8, st.tuples(st.sampled_from(["cut", "flip"]),
                                                  st.floats(0, 1)))


@st.composite
def tar_archives(draw: st.DrawFn, root: Path, dest: str) -> TarArchive:
    members = draw(tar_members(root, draw(appspec_texts(dest))))
    return TarArchive(tuple(members), draw(st.integers(0, 5)) != 0, draw(_DAMAGE),
                      draw(st.booleans()), draw(st.one_of(*[st.none()] * 9, st.floats(0, 1))))


# --- zip archives -----------------------------------------------------------------------------
@st.composite
def zip_archives(draw: st.DrawFn, root: Path, dest: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if draw(st.integers(0, 9)):
            z.writestr(draw(st.sampled_from(["appspec.yml", "top/appspec.yml", "appspec.yaml"])),
                       draw(appspec_texts(dest)))
        for _ in range(draw(st.integers(0, 6))):
            name = draw(names()).replace("\x00", "")
            if not name or name.endswith("/"):
                name += "f"
            info = zipfile.ZipInfo(name)
            info.create_system = draw(st.sampled_from([3, 3, 0, 11]))
            kind = draw(st.sampled_from(["file", "file", "dir", "symlink"]))
            mode = draw(st.sampled_from([0o644, 0o755, 0o000, 0o4755, 0o700]))
            if kind == "dir":
                info = zipfile.ZipInfo(name.rstrip("/") + "/")
                info.external_attr = (stat.S_IFDIR | mode) << 16 | 0x10
                data = b""
            elif kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = _enc(draw(targets(root)))
            else:
                info.external_attr = (stat.S_IFREG | mode) << 16
                data = draw(st.sampled_from(SCRIPTS))
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED,
                                                       zipfile.ZIP_DEFLATED]))
            with contextlib.suppress(ValueError):  # (a name zipfile itself refuses)
                z.writestr(info, data)
    raw = _damaged(buf.getvalue(), draw(_DAMAGE))
    if draw(st.integers(0, 9)) == 0 and b"PK\x01\x02" in raw:  # flags: encrypted, or others
        at = raw.index(b"PK\x01\x02")
        raw = raw[:at + 8] + struct.pack("<H", draw(st.sampled_from([1, 8, 0x800]))) + \
            raw[at + 10:]
    return raw


# --- bundle directories -----------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # file, dir, symlink, fifo
    data: bytes = b""
    target: str = ""
    mode: int = 0o644


@st.composite
def directory_entries(draw: st.DrawFn, root: Path, dest: str) -> list[Entry]:
    out = []
    if draw(st.integers(0, 9)):
        kind = draw(st.sampled_from(["file"] * 8 + ["symlink", "dir"]))
        out.append(Entry("appspec.yml", kind, draw(appspec_texts(dest)),
                         host_paths(root)[0] if kind == "symlink" else ""))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["file", "file", "dir", "symlink", "symlink", "fifo"]))
        out.append(Entry(draw(names()), kind, draw(st.sampled_from(SCRIPTS)),
                         draw(targets(root)) if kind == "symlink" else "",
                         draw(st.sampled_from([0o644, 0o755, 0o000, 0o700, 0o4755]))))
    return out


def make_directory(top: Path, entries: Sequence[Entry]) -> None:
    """The entries that can be made on this file system (a name it refuses is left out)."""
    top.mkdir()
    for e in entries:
        rel = e.name.replace("\x00", "").strip("/")
        parts = [p for p in rel.split("/") if p not in ("", ".", "..")]
        if not parts or len(rel) > 3000:
            continue
        path = top.joinpath(*parts)
        with contextlib.suppress(OSError, UnicodeEncodeError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(path):  # a name given twice: the first stays (never a write
                continue  # into a fifo made before, which would wait for a reader)
            if e.kind == "dir":
                path.mkdir(exist_ok=True)
            elif e.kind == "symlink":
                os.symlink(e.target.replace("\x00", "") or ".", path)
            elif e.kind == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(e.data)
                os.chmod(path, e.mode)


# --- one run, and the invariant ----------------------------------------------------------------
@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str
    elapsed: float
    left: list[str] = field(default_factory=list)  # what stayed in TMPDIR
    crash: str = ""  # the crash log's traceback, when there is one

    def check(self, *, json_out: bool = True) -> dict[str, Any] | None:
        """The invariant; returns the JSON document, if there is one."""
        where = (f"{self.argv}: exit {self.code}\nstdout: {self.out[-2000:]}\nstderr: "
                 f"{self.err}\n{self.crash}")
        assert self.code in EXITS, where
        assert "Traceback" not in self.err and "Traceback" not in self.out, where
        assert "internal error" not in self.err, where
        assert self.elapsed < TIME_LIMIT, where
        assert self.left == [], where
        if not self.out:  # a one-paragraph error, and nothing else
            assert self.code != 0, where
            assert self.err.startswith("agentkit: error: "), where
            assert self.err.endswith("\n") and "\n" not in self.err[:-1], where
            return None
        assert self.err == "", where
        if not json_out:
            return None
        doc: dict[str, Any] = json.loads(self.out)
        return doc


@contextlib.contextmanager
def example_dir() -> Iterator[Path]:
    """A fresh directory per example (hypothesis runs many in one test), with the host
    sentinel in it; removed afterwards whatever modes the run left."""
    root = Path(tempfile.mkdtemp(prefix="agentkit-fuzz-"))
    try:
        os.chmod(root, 0o755)
        make_host(root)
        yield root
    finally:
        fstree.remove_tree(str(root))


def run_in_process(argv: Sequence[str], root: Path) -> Outcome:
    """main(argv) with TMPDIR in the example's directory."""
    scratch = root / "tmp"
    scratch.mkdir(exist_ok=True)
    saved = tempfile.tempdir
    tempfile.tempdir = str(scratch)  # (gettempdir caches TMPDIR)
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        tempfile.tempdir = saved
    elapsed = time.monotonic() - start
    return Outcome(list(argv), code, out.getvalue(), err.getvalue(), elapsed,
                   _left(scratch), _crash(scratch))


def run_subprocess(argv: Sequence[str], root: Path) -> Outcome:
    """`python -m agentkit ARGV` with TMPDIR in the example's directory."""
    import subprocess
    import sys

    scratch = root / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "agentkit", *argv], env=env,
                          capture_output=True, text=True, errors="replace",
                          timeout=TIME_LIMIT * 2, check=False)
    elapsed = time.monotonic() - start
    return Outcome(list(argv), done.returncode, done.stdout, done.stderr, elapsed,
                   _left(scratch), _crash(scratch))


def _crash(scratch: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in scratch.glob("agentkit-crash-*"))


def _left(scratch: Path) -> list[str]:
    for _ in range(100):  # a big throw-away root is removed by a detached process
        left = os.listdir(scratch)
        if not left:
            return []
        time.sleep(0.1)
    return sorted(left)
