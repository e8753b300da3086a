"""Hostile revision archives and appspec files, built on demand: each builder writes one into a
directory and returns its path. Used by tests/hostile_test.py (and by hand: `python -m
tests.hostile DIR` writes them all)."""

from __future__ import annotations

import io
import os
import struct
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from .archives import APPSPEC_OK, appspec, tar

Builder = Callable[[Path], Path]
BUILDERS: dict[str, Builder] = {}
# the members of an input that verify must name in a finding (its path or message)
HOSTILE: dict[str, tuple[str, ...]] = {}


def builder(name: str, hostile: tuple[str, ...] = ()) -> Callable[[Builder], Builder]:
    def register(func: Builder) -> Builder:
        BUILDERS[name] = func
        HOSTILE[name] = hostile
        return func
    return register


def _dest(tmp: Path) -> str:
    return str(tmp / "dest")


def _tar_with(tmp: Path, name: str, appspec_text: str, extra: list[tarfile.TarInfo],
              payloads: dict[str, bytes] | None = None, pax: bool = False) -> Path:
    path = tmp / name
    fmt = tarfile.PAX_FORMAT if pax else tarfile.GNU_FORMAT
    with tarfile.open(path, "w:gz", format=fmt) as t:
        data = appspec_text.encode()
        info = tarfile.TarInfo("appspec.yml")
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        t.addfile(info, io.BytesIO(data))
        for member in extra:
            body = (payloads or {}).get(member.name)
            t.addfile(member, io.BytesIO(body) if body is not None else None)
    return path


# --- appspec files ---------------------------------------------------------------------------
@builder("appspec-10mb-comment")
def _big_comment(tmp: Path) -> Path:
    text = appspec(_dest(tmp)) + "# " + "x" * (10 << 20) + "\n"
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("appspec-10mb-files")
def _big_files(tmp: Path) -> Path:
    rows = "".join(f"  - source: f{i}\n    destination: {_dest(tmp)}\n" for i in range(250_000))
    text = "version: 0.0\nos: linux\nfiles:\n" + rows
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("yaml-alias-bomb")
def _alias_bomb(tmp: Path) -> Path:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    text = "version: 0.0\nos: linux\n" + "\n".join(lines) + "\nhooks:\n  AfterInstall: *a9\n"
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("yaml-deep-nesting")
def _deep_yaml(tmp: Path) -> Path:
    text = "version: 0.0\nos: linux\nfiles: " + "[" * 50_000 + "]" * 50_000 + "\n"
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("yaml-deep-block-nesting")
def _deep_block(tmp: Path) -> Path:
    text = "version: 0.0\nos: linux\nhooks:\n" + "".join(
        " " * i + f"k{i}:\n" for i in range(1, 3000))
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("yaml-long-scalar")
def _long_scalar(tmp: Path) -> Path:
    text = f"version: 0.0\nos: linux\nfiles:\n  - source: {'s' * (8 << 20)}\n" \
           f"    destination: {_dest(tmp)}\n"
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644)])


@builder("appspec-symlink-to-shadow", hostile=("appspec.yml",))
def _appspec_link(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "symlink", "/etc/shadow", 0o777)])


@builder("hook-location-symlink-to-shadow", hostile=("run.sh",))
def _hook_link(tmp: Path) -> Path:
    text = appspec(_dest(tmp), "  AfterInstall:\n    - location: run.sh\n")
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644),
                               ("run.sh", "symlink", "/etc/shadow", 0o777)])


@builder("appspec-binary")
def _binary(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", os.urandom(4096), 0o644)])


# --- tar archives --------------------------------------------------------------------------------
def _pax_header(records: dict[str, str]) -> bytes:
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        size = len(body)
        while len(str(size + len(str(size))).encode()) + len(body) != size:
            size = len(str(size)) + len(body)
        out += str(size).encode() + body
    return out


def _raw_header(name: bytes, size: int, typeflag: bytes, mode: int = 0o644,
                size_field: bytes | None = None, mtime_field: bytes | None = None) -> bytes:
    header = bytearray(512)
    header[0:len(name)] = name
    header[100:108] = f"{mode:07o}\0".encode()
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = size_field or f"{size:011o}\0".encode()
    header[136:148] = mtime_field or f"{int(time.time()):011o}\0".encode()
    header[156:157] = typeflag
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header)


def _raw_tar(tmp: Path, name: str, blocks: list[bytes]) -> Path:
    data = APPSPEC_OK.encode()
    body = _raw_header(b"appspec.yml", len(data), b"0") + data + b"\0" * (512 - len(data))
    raw = body + b"".join(blocks) + b"\0" * 1024
    path = tmp / name
    path.write_bytes(_gzip(raw))
    return path


def _gzip(raw: bytes) -> bytes:
    import gzip
    return gzip.compress(raw, mtime=0)


def _pax_member(records: dict[str, str], name: bytes = b"f", content: bytes = b"x") -> bytes:
    pax = _pax_header(records)
    pad = b"\0" * (-len(pax) % 512)
    body = content + b"\0" * (-len(content) % 512)
    return (_raw_header(b"PaxHeader/f", len(pax), b"x") + pax + pad +
            _raw_header(name, len(content), b"0") + body)


@builder("pax-mtime-inf")
def _pax_inf(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"mtime": "inf"})])


@builder("pax-mtime-nan")
def _pax_nan(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"mtime": "nan"})])


@builder("pax-mtime-huge")
def _pax_huge(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"mtime": "1e400"})])


@builder("pax-size-lies", hostile=("f",))
def _pax_size(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"size": "99999999999999"})])


@builder("pax-length-huge")
def _pax_length(tmp: Path) -> Path:
    body = b"99999999999999999 path=x\n"
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"PaxHeader/f", len(body), b"x") + body +
                                   b"\0" * (512 - len(body)) +
                                   _raw_header(b"f", 1, b"0") + b"x" + b"\0" * 511])


@builder("pax-length-zero")
def _pax_zero(tmp: Path) -> Path:
    body = b"0 path=x\n" * 40
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"PaxHeader/f", len(body), b"x") + body +
                                   b"\0" * (-len(body) % 512) +
                                   _raw_header(b"f", 1, b"0") + b"x" + b"\0" * 511])


@builder("pax-header-declares-gigabytes")
def _pax_giga(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"PaxHeader/f", 10 << 30, b"x") + b"1" * 512])


@builder("gnu-longname-gigabytes")
def _longname(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"././@LongLink", 10 << 30, b"L") + b"a" * 512])


@builder("gnu-longname-1mb")
def _longname_mb(tmp: Path) -> Path:
    name = b"d/" * (1 << 19)
    pad = b"\0" * (-len(name) % 512)
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"././@LongLink", len(name), b"L") + name + pad +
                                   _raw_header(b"x", 1, b"0") + b"x" + b"\0" * 511])


@builder("many-pax-headers")
def _many_pax(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"comment": "x" * 100, "path": f"f{i}"},
                                               name=f"f{i}".encode()) for i in range(20_000)])


@builder("tar-negative-size", hostile=("f",))
def _negative(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 0, b"0", size_field=b"\xff" * 12)])


@builder("tar-base256-size-huge", hostile=("f",))
def _base256(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 0, b"0",
                                               size_field=b"\x80" + b"\x7f" * 11)])


@builder("tar-bad-mtime-field")
def _bad_mtime(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 1, b"0", mtime_field=b"\xff" * 12) +
                                   b"x" + b"\0" * 511])


@builder("tar-truncated-member", hostile=("f",))
def _truncated(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 100000, b"0") + b"x" * 512])


@builder("tar-sparse-member")
def _sparse(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 512, b"S") + b"\0" * 512])


@builder("symlink-loop", hostile=("a", "b", "self"))
def _loop(tmp: Path) -> Path:
    text = ("version: 0.0\nos: linux\nfiles:\n  - source: a\n    destination: "
            f"{_dest(tmp)}\n  - source: self\n    destination: {_dest(tmp)}/s\n")
    return tar(tmp / "a.tgz", [("appspec.yml", "file", text, 0o644), ("a", "symlink", "b", 0),
                               ("b", "symlink", "a", 0), ("self", "symlink", ".", 0)])


@builder("symlink-chain-100")
def _chain(tmp: Path) -> Path:
    members = [("appspec.yml", "file", appspec(_dest(tmp)), 0o644)]
    members += [(f"l{i}", "symlink", f"l{i + 1}", 0o777) for i in range(100)]
    members.append(("l100", "file", "end", 0o644))
    return tar(tmp / "a.tgz", members)


@builder("deep-1000-dirs")
def _deep(tmp: Path) -> Path:
    deep = "/".join(["d"] * 1000)
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               (f"{deep}/f", "file", "x", 0o644)])


@builder("deep-3000-dirs")
def _deeper(tmp: Path) -> Path:
    deep = "/".join(["d"] * 2040)  # GNU tar's path limit is PATH_MAX
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               (f"{deep}/f", "file", "x", 0o644)])


@builder("dotdot-member", hostile=("../../escape",))
def _dotdot(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("../../escape", "file", "x", 0o644)])


@builder("absolute-member", hostile=("/tmp/agentkit-absolute-escape",))
def _absolute(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("/tmp/agentkit-absolute-escape", "file", "x", 0o644)])


@builder("write-through-link", hostile=("out/agentkit-through-escape",))
def _through(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("out", "symlink", "/tmp", 0o777),
                               ("out/agentkit-through-escape", "file", "x", 0o644)])


@builder("hardlink-outside", hostile=("h",))
def _hardlink(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("h", "hardlink", "/etc/passwd", 0o644)])


@builder("device-and-fifo", hostile=("fifo", "dev"))
def _devices(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("fifo", "fifo", "", 0o644), ("dev", "chardev", "", 0o644)])


@builder("gzip-garbage")
def _gzip_garbage(tmp: Path) -> Path:
    path = tmp / "a.tgz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(4096))
    return path


@builder("gzip-bomb")
def _gzip_bomb(tmp: Path) -> Path:
    path = tmp / "a.tgz"
    data = APPSPEC_OK.encode()
    head = _raw_header(b"appspec.yml", len(data), b"0") + data + b"\0" * (512 - len(data))
    import gzip
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head + _raw_header(b"zeros", 512 << 20, b"0"))
        chunk = b"\0" * (1 << 20)
        for _ in range(512):
            f.write(chunk)
        f.write(b"\0" * 1024)
    return path


@builder("empty-file")
def _empty(tmp: Path) -> Path:
    path = tmp / "a.tgz"
    path.write_bytes(b"")
    return path


# --- members readers see differently, or tar cannot extract -------------------------------------
def _loop_beneath(tmp: Path, links: list[tuple[str, str]]) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               *[(name, "symlink", target, 0o777) for name, target in links],
                               ("a/file", "file", "x", 0o644)])


@builder("symlink-loop-self-member-beneath", hostile=("a/file",))
def _loop_self(tmp: Path) -> Path:
    return _loop_beneath(tmp, [("a", "a")])


@builder("symlink-loop-pair-member-beneath", hostile=("a/file",))
def _loop_pair(tmp: Path) -> Path:
    return _loop_beneath(tmp, [("a", "b"), ("b", "a")])


@builder("symlink-loop-growing-member-beneath", hostile=("a/file",))
def _loop_growing(tmp: Path) -> Path:
    return _loop_beneath(tmp, [("a", "a/x")])


@builder("dir-then-symlink-same-name", hostile=("d",))
def _dir_then_link(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("d", "dir", "", 0o755), ("d", "symlink", "elsewhere", 0o777)])


@builder("full-dir-then-symlink-same-name", hostile=("d",))
def _full_dir_then_link(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("d/f", "file", "x", 0o644), ("d", "symlink", "elsewhere", 0o777)])


@builder("symlink-then-child-then-link-target", hostile=("l/c",))
def _link_then_child(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("l", "symlink", "m", 0o777), ("l/c", "file", "x", 0o644),
                               ("m", "symlink", "q", 0o777)])


@builder("symlink-then-child-link", hostile=("l/c",))
def _link_then_child_link(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("l", "symlink", "d", 0o777), ("l/c", "symlink", "x", 0o777),
                               ("d", "symlink", "e", 0o777)])


@builder("pax-path-nul-in-directory", hostile=("d",))
def _pax_nul(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_pax_member({"path": "d\0x/f"}, name=b"f")])


@builder("hardlink-target-dotdot", hostile=("h",))
def _hardlink_dotdot(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("f", "file", "x", 0o644), ("h", "hardlink", "../f", 0o644)])


@builder("pax-path-disagrees-with-gnu-longname", hostile=("pax-name", "gnu-name" + "x" * 100))
def _pax_vs_gnu(tmp: Path) -> Path:
    name = b"gnu-name" + b"x" * 100
    pad = b"\0" * (-len(name) % 512)
    pax = _pax_header({"path": "pax-name"})
    return _raw_tar(tmp, "a.tgz", [
        _raw_header(b"././@LongLink", len(name), b"L") + name + pad +
        _raw_header(b"PaxHeader/f", len(pax), b"x") + pax + b"\0" * (-len(pax) % 512) +
        _raw_header(b"short", 1, b"0") + b"x" + b"\0" * 511])


@builder("sparse-member-absolute", hostile=("/tmp/agentkit-sparse-escape",))
def _sparse_absolute(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"/tmp/agentkit-sparse-escape", 512, b"S") +
                                   b"\0" * 512])


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}\0".encode()


@builder("sparse-member-extended-absolute", hostile=("/tmp/agentkit-sparse-escape",))
def _sparse_extended(tmp: Path) -> Path:
    # an old GNU sparse member of five fragments: four in its header, one in an extension
    # header that follows it (not counted in its size); a reader that takes the extension for
    # data loses its place, and GNU tar does not
    fragments = [(i * 4096, 512) for i in range(5)]
    header = bytearray(_raw_header(b"/tmp/agentkit-sparse-escape", 512 * 5, b"S"))
    for i, (offset, size) in enumerate(fragments[:4]):
        header[386 + 24 * i:410 + 24 * i] = _octal(offset, 12) + _octal(size, 12)
    header[482] = 1  # isextended
    header[483:495] = _octal(4 * 4096 + 512, 12)  # realsize
    header[257:265] = b"ustar  \0"  # GNU's magic: only its headers have sparse maps
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    extension = bytearray(512)
    extension[0:24] = _octal(fragments[4][0], 12) + _octal(fragments[4][1], 12)
    return _raw_tar(tmp, "a.tgz", [bytes(header) + bytes(extension) + b"s" * 512 * 5])


@builder("sparse-member-pax-absolute", hostile=("/tmp/agentkit-sparse-escape",))
def _sparse_pax(tmp: Path) -> Path:
    # PAX sparse 1.0, as GNU tar --format=pax writes it: the real name in GNU.sparse.name,
    # the header's a made-up one, the map at the start of the data
    pax = _pax_header({"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                       "GNU.sparse.name": "/tmp/agentkit-sparse-escape",
                       "GNU.sparse.realsize": "1024"})
    data = b"1\n512\n512\n".ljust(512, b"\0") + b"s" * 512
    return _raw_tar(tmp, "a.tgz", [
        _raw_header(b"PaxHeader/f", len(pax), b"x") + pax + b"\0" * (-len(pax) % 512) +
        _raw_header(b"GNUSparseFile.0/agentkit-sparse-escape", len(data), b"0") + data])


@builder("tar-base256-size", hostile=("f",))
def _base256_small(tmp: Path) -> Path:
    return _raw_tar(tmp, "a.tgz", [_raw_header(b"f", 1, b"0",
                                               size_field=b"\x80" + bytes(10) + b"\x01") +
                                   b"x" + b"\0" * 511])


# --- zip archives --------------------------------------------------------------------------------
def _zip(tmp: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    path = tmp / "a.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("appspec.yml", appspec(_dest(tmp)))
        for info, data in entries:
            z.writestr(info, data)
    return path


def _patch_zip(path: Path, name: bytes, flag_bits: int | None = None,
               method: int | None = None) -> None:
    """Rewrite the local and central headers of one entry."""
    raw = bytearray(path.read_bytes())
    for sig, flag_at, method_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 8, 26, 30),
                                                          (b"PK\x01\x02", 8, 10, 28, 46)):
        start = 0
        while (start := raw.find(sig, start)) >= 0:
            n = struct.unpack_from("<H", raw, start + name_len_at)[0]
            if bytes(raw[start + name_at:start + name_at + n]) == name:
                if flag_bits is not None:
                    struct.pack_into("<H", raw, start + flag_at, flag_bits)
                if method is not None:
                    struct.pack_into("<H", raw, start + method_at, method)
            start += 4
    path.write_bytes(bytes(raw))


@builder("zip-encrypted-entry", hostile=("secret.txt",))
def _zip_encrypted(tmp: Path) -> Path:
    path = _zip(tmp, [(zipfile.ZipInfo("secret.txt"), b"x" * 100)])
    _patch_zip(path, b"secret.txt", flag_bits=1)
    return path


@builder("zip-unknown-method", hostile=("odd.bin",))
def _zip_method(tmp: Path) -> Path:
    path = _zip(tmp, [(zipfile.ZipInfo("odd.bin"), b"x" * 100)])
    _patch_zip(path, b"odd.bin", method=77)
    return path


@builder("zip-dotdot", hostile=("../../agentkit-zip-escape",))
def _zip_dotdot(tmp: Path) -> Path:
    return _zip(tmp, [(zipfile.ZipInfo("../../agentkit-zip-escape"), b"x")])


@builder("zip-backslash-dotdot", hostile=("..\\agentkit-zip-escape",))
def _zip_backslash(tmp: Path) -> Path:
    return _zip(tmp, [(zipfile.ZipInfo("..\\agentkit-zip-escape"), b"x")])


@builder("zip-backslash-dotdot-dos", hostile=("..\\agentkit-zip-escape",))
def _zip_backslash_dos(tmp: Path) -> Path:
    info = zipfile.ZipInfo("..\\agentkit-zip-escape")
    info.create_system = 0  # MS-DOS: unzip reads its backslashes as separators
    return _zip(tmp, [(info, b"x")])


@builder("zip-name-flagged-utf8-is-not", hostile=("a\udca3b",))
def _zip_flagged_utf8(tmp: Path) -> Path:
    # the UTF-8 flag (bit 11) on a name that is not UTF-8: unzip takes the bytes as they are
    path = _zip(tmp, [(zipfile.ZipInfo("aXb"), b"x")])
    path.write_bytes(path.read_bytes().replace(b"aXb", b"a\xa3b"))
    _patch_zip(path, b"a\xa3b", flag_bits=0x800)
    return path


@builder("file-then-member-beneath", hostile=("f/x",))
def _beneath_file(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("f", "file", "x", 0o644), ("f/x", "file", "y", 0o644)])


@builder("symlink-empty-target", hostile=("l",))
def _empty_link(tmp: Path) -> Path:
    return tar(tmp / "a.tgz", [("appspec.yml", "file", appspec(_dest(tmp)), 0o644),
                               ("l", "symlink", "", 0o777)])


@builder("zip-symlink-out", hostile=("link",))
def _zip_link(tmp: Path) -> Path:
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    return _zip(tmp, [(info, b"/etc/shadow")])


@builder("zip-truncated")
def _zip_trunc(tmp: Path) -> Path:
    path = _zip(tmp, [(zipfile.ZipInfo("f"), os.urandom(10000))])
    path.write_bytes(path.read_bytes()[:-200])
    return path


@builder("zip-garbage")
def _zip_garbage(tmp: Path) -> Path:
    path = tmp / "a.zip"
    path.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    for name, build in BUILDERS.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        print(build(out / name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
