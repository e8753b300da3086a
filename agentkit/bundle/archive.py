"""What an archive really is, and a decompressed byte stream of it.

The agent never looks: it trusts the deployment's bundle type (command_executor.rb
#unpack_bundle), so `detect` is only used to say why a declared type will fail and to pick a
type when none is given.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import os
from collections.abc import Iterator
from typing import IO

from agentkit.bundle import inflate
from agentkit.errors import BadArchive


def content_kind(path: str) -> str:
    """gzip, bzip2, xz, zip, tar, directory or unknown."""
    if os.path.isdir(path):
        return "directory"
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise BadArchive(f"{path}: cannot read the archive ({exc.strerror}).") from exc
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) == 512 and (head[257:262] == b"ustar" or _v7_checksum_ok(head)):
        return "tar"
    return "unknown"


def _v7_checksum_ok(head: bytes) -> bool:
    text = head[148:156].split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) == sum(head[:148]) + 256 + sum(head[156:])
    except ValueError:
        return False


def bundle_type(kind: str) -> str:
    """The bundle type a user would declare for content of this kind."""
    return {"gzip": "tgz", "bzip2": "tar", "xz": "tar", "tar": "tar", "zip": "zip",
            "directory": "directory"}.get(kind, "tar")


@contextlib.contextmanager
def tar_stream(path: str, kind: str) -> Iterator[IO[bytes]]:
    """The uncompressed tar bytes. gzip is inflated in a thread, on the other core; like
    `tar -z`, the whole file is read, and what gzip would fail on raises OSError."""
    if kind == "gzip":
        with open(path, "rb") as raw, inflate.Gunzip(raw) as out:
            yield out  # type: ignore[misc]
            out.drain()
        return
    opener = {"bzip2": bz2.open, "xz": lzma.open}.get(kind)
    with (opener(path, "rb") if opener else open(path, "rb")) as f:  # type: ignore[operator]
        yield f
