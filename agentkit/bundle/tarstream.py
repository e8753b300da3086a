"""A streaming tar reader: one pass, bounded memory, data handed straight to file descriptors.

Python's tarfile keeps every member and costs ~2.5x GNU tar on 20,000 files; this reads the
512-byte headers itself (ustar, GNU long names, pax path/linkpath/size) and copies data with
os.write, so extracting costs about what `tar -x` does.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from typing import IO, Any, Callable, NamedTuple, Union

BLOCK = 512
CHUNK = 1 << 20
MAX_EXTENDED = 16 << 20  # an extended header (a long name, pax records) held in memory
_ZEROS = bytes(BLOCK)

KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"S": "file",  # (GNU tar fills sparse ones)
         b"1": "hardlink", b"2": "symlink",
         b"3": "chardev", b"4": "blockdev", b"5": "dir", b"6": "fifo"}


class TarError(Exception):
    """The stream is not a tar archive GNU tar would read."""


class _MemberError(TarError):
    """A TarError in a member's own header; its message names that member already."""


class Member(NamedTuple):  # one per member: a tuple is cheap to make
    name: str
    kind: str  # file, dir, symlink, hardlink, chardev, blockdev, fifo, other
    mode: int
    size: int
    linkname: str
    mtime: float  # pax times keep their fraction, as GNU tar does
    uid: int
    gid: int
    uname: str
    gname: str
    # what in its headers readers may take differently (GNU tar's reading is the one above):
    # a PAX name that disagrees with the GNU long name, a NUL byte inside a name, a size in
    # base-256 that octal could hold; each a sentence naming the member. Usually empty.
    odd: tuple[str, ...] = ()


# member -> where its data goes: an fd (the reader writes, the caller closes), a bytearray to
# fill, or None to skip it. When relaying to another tar reader: RELAY or RELAY_HASHED to pass
# the member on (hashing its data), None to leave it out.
RELAY, RELAY_HASHED = "relay", "relay-hashed"
Sink = Union[int, bytearray, str, None]
Visit = Callable[[Member], Sink]
# called after a member's data; with its sha256 when it was hashed on the way
Done = Callable[[Member, Union[int, bytearray, str], Union[str, None]], None]


class Relay:
    """The records of the members kept, passed on to another tar reader (GNU tar extracting
    them): the archive it sees is this one without the members left out. Pieces of the read
    buffer are gathered and written with writev, never copied here."""

    def __init__(self, write: Callable[[list[memoryview]], object], size: int = 1 << 20,
                 parts: int = 512) -> None:
        self.write = write
        self.size = size
        self.most = parts
        self.parts: list[memoryview] = []
        self.pending = 0

    def add(self, data: memoryview) -> None:
        if data:
            self.parts.append(data)
            self.pending += len(data)
            if self.pending >= self.size or len(self.parts) >= self.most:
                self.flush()

    def flush(self) -> None:
        if self.parts:
            self.write(self.parts)
            self.parts = []
            self.pending = 0

    def end(self) -> None:
        self.add(memoryview(bytes(2 * BLOCK)))  # end-of-archive: the original's may be missing
        self.flush()


class _Stream:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.buf = b""
        self.pos = 0
        self.mark = 0

    def _fill(self) -> bool:
        chunk = self.raw.read(CHUNK)
        if not chunk:
            return False
        self.buf = self.buf[self.pos:] + chunk if self.pos < len(self.buf) else chunk
        self.pos = 0
        return True

    def read(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            if not self._fill():
                break
        self.mark = self.pos  # where in buf what we return starts
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def pump(self, n: int, fd: int | bytearray | None, digest: Any = None, skip: int = 0) -> int:
        """Copy (or skip) n bytes, hashing what goes to an fd, then skip `skip` more (the
        padding); returns how many of the n were there."""
        buf, pos = self.buf, self.pos
        if fd is None and pos + n + skip <= len(buf):
            self.pos = pos + n + skip
            return n
        if isinstance(fd, int) and pos + n + skip <= len(buf):  # the usual case: all here
            view = memoryview(buf)[pos:pos + n]
            if digest is not None:
                digest.update(view)
            while view:
                view = view[os.write(fd, view):]
            self.pos = pos + n + skip
            return n
        got = self._pump(n, fd, digest)
        self._pump(skip, None)
        return got

    def relay(self, n: int, skip: int, relay: Relay, digest: Any = None,
              header: bool = False) -> int:
        """Pass n bytes (hashed) and their padding on, with the header block just read when
        `header`; returns how many of the n were there."""
        pos, buf = self.pos, self.buf
        if pos + n + skip <= len(buf) and (not header or self.mark + BLOCK == pos):
            view = memoryview(buf)  # the usual case: header and data are one piece
            relay.add(view[pos - BLOCK if header else pos:pos + n + skip])
            if digest is not None:
                digest.update(view[pos:pos + n])
            self.pos = pos + n + skip
            return n
        if header:
            relay.add(memoryview(buf)[self.mark:self.mark + BLOCK])
        got = self._relay(n, relay, digest)
        if got == n:
            self._relay(skip, relay, None)
        return got

    def _relay(self, n: int, relay: Relay, digest: Any) -> int:
        left = n
        while left:
            if self.pos >= len(self.buf) and not self._fill():
                break
            take = min(left, len(self.buf) - self.pos)
            view = memoryview(self.buf)[self.pos:self.pos + take]
            relay.add(view)
            if digest is not None:
                digest.update(view)
            self.pos += take
            left -= take
        return n - left

    def _pump(self, n: int, fd: int | bytearray | None, digest: Any = None) -> int:
        left = n
        while left:
            if self.pos >= len(self.buf) and not self._fill():
                break
            take = min(left, len(self.buf) - self.pos)
            if isinstance(fd, bytearray):
                fd += self.buf[self.pos:self.pos + take]
            elif fd is not None:
                view = memoryview(self.buf)[self.pos:self.pos + take]
                if digest is not None:
                    digest.update(view)
                while view:
                    view = view[os.write(fd, view):]
            self.pos += take
            left -= take
        return n - left


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256: 0x80 leads a positive value, 0xff a negative
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError("Skipping to next header") from None


def _size(value: int) -> int:
    """A member's size, as GNU tar takes it: 0 to 2^63 - 1 (off_t)."""
    if not 0 <= value < 1 << 63:
        raise TarError(f"Archive value {value} is out of off_t range 0..9223372036854775807")
    return value


def _time(value: float) -> float:
    """A time GNU tar keeps (it warns of implausible ones) that SQLite and utime can hold."""
    return min(max(value, -(1 << 62)), float(1 << 62))


def _checksum_ok(header: bytes) -> bool:
    stored = _number(header[148:156])
    return stored == _byte_sum(header) - sum(header[148:156]) + 32 * 8


def _byte_sum(block: bytes) -> int:
    """sum(block) of a 512-byte block, ten times faster: the low half of an Adler-32 started
    at 0 is the byte sum modulo 65521, exact for 256 bytes (at most 65,280)."""
    return (zlib.adler32(block[:256], 0) & 0xFFFF) + (zlib.adler32(block[256:], 0) & 0xFFFF)


# name, mode, uid, gid, size, mtime, chksum, typeflag, linkname, magic, version, uname, gname
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s")


_PAX_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")
_PAX_INTEGER = re.compile(r"[0-9]+")
# GNU tar's limits for the integer records (xheader.c decode_num: off_t, uid_t, gid_t)
_PAX_LIMITS = {"size": (1 << 63) - 1, "uid": (1 << 32) - 1, "gid": (1 << 32) - 1}


def _pax(data: bytes) -> dict[str, str]:
    """Extended header records `LEN key=value\n`, checked as GNU tar checks them (xheader.c
    decode_record): a wrong length or a record without `=` fails the archive."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # padding after the last record
            break
        space = data.find(b" ", pos, pos + 24)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarError("Malformed extended header: missing length")
        length = int(digits)
        if length < len(digits) + 3 or pos + length > len(data):
            raise TarError(f"Extended header length {digits.decode()} is out of range")
        record = data[space + 1:pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise TarError("Malformed extended header: missing equal sign")
        key, _, value = record[:-1].partition(b"=")
        text = value.decode("utf-8", "surrogateescape")
        name = key.decode("utf-8", "replace")
        if name in ("mtime", "atime", "ctime") and not _PAX_NUMBER.fullmatch(text):
            raise TarError(f"Malformed extended header: invalid {name}={text}")
        if name in _PAX_LIMITS:
            if not _PAX_INTEGER.fullmatch(text):
                raise TarError(f"Malformed extended header: invalid {name}={text}")
            if int(text) > _PAX_LIMITS[name]:
                raise TarError(f"Extended header {name}={text} is out of range "
                               f"0..{_PAX_LIMITS[name]}")
        out[name] = text
        pos += length
    return out


def read(raw: IO[bytes], visit: Visit, done: Done, relay: Relay | None = None,
         hashing: bool = True) -> int:
    """Read every member; returns the number of members. Raises TarError on garbage. With
    `relay`, the records of the members `visit` keeps are passed on (ended properly);
    `hashing`: data written to an fd is hashed on the way."""
    stream = _Stream(raw)
    where: list[str] = []
    try:
        count = _read(stream, visit, done, relay, hashing, where)
    except _MemberError:
        raise
    except TarError as exc:
        if where:  # name the member it happened at
            raise TarError(f"{exc} (after member {where[0]!r})") from None
        raise
    if relay is not None:
        relay.end()
    return count


def _read(stream: _Stream, visit: Visit, done: Done, relay: Relay | None,
          hashing: bool, where: list[str]) -> int:
    """`where` holds the name of the last member read, for errors."""
    long_name = long_link = None
    pax: dict[str, str] = {}
    extended = bytearray()  # the current member's extended header records, for the relay
    count = 0
    owners: dict[bytes, tuple[int, int, str, str]] = {}
    modes: dict[bytes, int] = {}
    mtimes: dict[bytes, int] = {}  # a build writes its files within a few seconds
    while True:
        header = stream.read(BLOCK)
        if len(header) < BLOCK:
            if count == 0:
                raise TarError("This does not look like a tar archive")
            return count  # GNU tar accepts a missing end-of-archive marker
        if header == _ZEROS:
            return count
        if not _checksum_ok(header):
            raise TarError("This does not look like a tar archive" if count == 0
                           else "Skipping to next header")
        (name_f, mode_f, uid_f, gid_f, size_f, mtime_f, _sum, typeflag, link_f, _magic, _v,
         uname_f, gname_f) = _HEADER.unpack_from(header)
        try:
            size = _size(_number(size_f))
        except TarError as exc:
            if typeflag in (b"L", b"K", b"x", b"g"):
                raise
            name = _names(pax, long_name, long_link, _ustar_name(header, name_f), "")[0]
            raise _MemberError(f"{exc} (member {name!r})") from None
        padded = size + (-size % BLOCK)
        if typeflag in (b"L", b"K", b"x", b"g"):
            if size > MAX_EXTENDED:
                raise TarError(f"Extended header of {size} bytes: more than verify reads "
                               f"({MAX_EXTENDED >> 20} MiB)")
            raw_data = stream.read(padded)
            if len(raw_data) < padded:
                raise TarError("Unexpected EOF in archive")
            data = raw_data[:size]
            if relay is not None:
                if typeflag == b"g":  # applies to every member after it
                    relay.add(memoryview(header + raw_data))
                else:
                    extended += header + raw_data
            if typeflag == b"L":
                long_name = _cut(data)
            elif typeflag == b"K":
                long_link = _cut(data)
            elif typeflag == b"x":
                pax = _pax(data)
            continue
        if pax and "size" in pax:
            size = int(pax["size"])  # (checked by _pax: GNU tar's range)
            padded = size + (-size % BLOCK)
        sparse = b""  # an old GNU sparse member's extension headers, which come before its data
        if typeflag == b"S" and header[482] and header[257:265] == _OLDGNU_MAGIC:
            sparse = _sparse_extensions(stream)
        # an archive's members share a handful of owners, modes and times: parsed once each
        who = header[108:124] + header[265:329]
        owner = owners.get(who)
        if owner is None:
            if len(owners) >= 4096:
                owners.clear()
            owner = owners[who] = (_number(uid_f), _number(gid_f), _text(uname_f),
                                   _text(gname_f))
        mode = modes.get(mode_f)
        if mode is None:
            mode = modes[mode_f] = _number(mode_f)
        mtime = mtimes.get(mtime_f)
        if mtime is None:
            if len(mtimes) >= 4096:
                mtimes.clear()
            mtime = mtimes[mtime_f] = int(_time(_number(mtime_f)))
        if pax and _PAX_OWNER.intersection(pax):
            owner = _pax_owner(pax, owner)
        link = _text(link_f) if link_f[0] else ""
        if pax or long_name is not None or long_link is not None:
            name, link, odd = _names(pax, long_name, long_link, _ustar_name(header, name_f),
                                     link)
        else:
            name, odd = _ustar_name(header, name_f), ()
        if size_f[0] & 0x80 and size < 8 ** 11 and "size" not in pax:
            odd += (f"its size ({size}) is written in GNU base-256, which tar uses only for 8 "
                    "GiB or more: a crafted header; readers that only know octal read another "
                    "size and lose their place in the archive",)
        member = Member(
            name, KINDS.get(typeflag, "other"), mode,
            size if typeflag in (b"0", b"\0", b"7", b"S") else 0, link,
            _time(float(pax["mtime"])) if "mtime" in pax else mtime, *owner, odd)
        long_name = long_link = None
        if pax:
            pax = {}
        count += 1
        where[:] = [member.name]
        fd = visit(member)
        if relay is not None:
            _relay_member(stream, relay, extended, member, fd, size, padded, done,
                          header + sparse if sparse else None)
            if extended:
                extended = bytearray()
            continue
        if isinstance(fd, str):
            raise TypeError("a member can only be relayed when reading with a relay")
        digest = hashlib.sha256() if hashing and isinstance(fd, int) else None
        if stream.pump(size, fd, digest, padded - size) < size:
            if fd is not None:
                done(member, fd, None)
            raise TarError("Unexpected EOF in archive")
        if fd is not None:
            done(member, fd, digest.hexdigest() if digest is not None else None)


def _relay_member(stream: _Stream, relay: Relay, records: bytearray, member: Member,
                  sink: Sink, size: int, padded: int, done: Done,
                  head: bytes | None = None) -> None:
    """`records`: the member's extended header records; its header block was just read (or
    is `head`, with the blocks that followed it)."""
    digest = None
    if sink is None:
        got = stream.pump(size, None, None, padded - size)
    else:
        if records:  # the extended headers, which come first
            relay.add(memoryview(bytes(records)))
        if head is not None:
            relay.add(memoryview(head))
        digest = hashlib.sha256() if sink == RELAY_HASHED else None
        got = stream.relay(size, padded - size, relay, digest, header=head is None)
    if got < size:
        raise TarError("Unexpected EOF in archive")
    if sink is not None:
        done(member, sink, digest.hexdigest() if digest is not None else None)


def _sparse_extensions(stream: _Stream) -> bytes:
    """The extension headers of an old GNU sparse member (`S` with isextended set): more
    blocks of its sparse map, read as part of its header (GNU tar's sparse.c), not counted in
    its size."""
    blocks = []
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise TarError("Unexpected EOF in archive")
        blocks.append(block)
        if not block[504]:  # isextended: another block follows
            return b"".join(blocks)
        if len(blocks) * BLOCK > MAX_EXTENDED:
            raise TarError(f"Sparse map of more than {MAX_EXTENDED >> 20} MiB: more than "
                           "verify reads")


def _cut(raw: bytes) -> str:
    """A name from a GNU long name record: GNU tar reads it as a C string, up to a NUL."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape") + \
        ("\0" if raw.rstrip(b"\0").count(b"\0") else "")  # marked: judged in _names


def _names(pax: dict[str, str], long_name: str | None, long_link: str | None, ustar: str,
           link: str) -> tuple[str, str, tuple[str, ...]]:
    """The member's name and link target as GNU tar takes them (the PAX records, GNU.sparse.name
    first, over the GNU long names, over the header's fields; each cut at a NUL, as C strings
    are), and what other readers may take differently."""
    odd: list[str] = []
    out = []
    for key, gnu, plain, what in (("path", long_name, ustar, "name"),
                                  ("linkpath", long_link, link, "link target")):
        if gnu is not None and gnu.endswith("\0"):
            gnu = gnu[:-1]
            odd.append(f"its GNU long {what} holds a NUL byte: GNU tar reads it up to there, "
                       f"as {gnu!r}")
        value = pax.get("GNU.sparse.name") if key == "path" else None
        value = value or pax.get(key) or None
        if value is None:
            out.append(plain if gnu is None else gnu)
            continue
        if "\0" in value:
            cut = value.split("\0", 1)[0]
            odd.append(f"its PAX {what} {value!r} holds a NUL byte: GNU tar reads it up to "
                       f"there, as {cut!r}")
            value = cut
        if gnu is not None and gnu != value:
            odd.append(f"its PAX {what} {value!r} and its GNU long {what} {gnu!r} differ: "
                       f"GNU tar takes the PAX one, readers that take the other extract "
                       f"{gnu!r}")
        out.append(value)
    return out[0], out[1], tuple(odd)


_PAX_OWNER = frozenset(("uid", "gid", "uname", "gname"))


def _pax_owner(pax: dict[str, str], owner: tuple[int, int, str, str]
               ) -> tuple[int, int, str, str]:
    """pax records override the header's owner fields (as GNU tar reads them)."""
    uid, gid, uname, gname = owner
    return (int(pax.get("uid", uid)), int(pax.get("gid", gid)),
            pax.get("uname", uname), pax.get("gname", gname))


_OLDGNU_MAGIC = b"ustar  \0"  # GNU tar's own headers, where a sparse map has extensions


def _ustar_name(header: bytes, field: bytes) -> str:
    name = _text(field)
    # the prefix field is POSIX ustar's (magic "ustar\0"); GNU headers keep times there
    if header[345] and header[257:263] == b"ustar\0":  # (an empty prefix starts with NUL)
        prefix = _text(header[345:500])
        if prefix:
            return f"{prefix}/{name}"
    return name
