"""The sha256 of a file, read in 1 MiB blocks (a bundle or an image is hundreds of MB)."""

from __future__ import annotations

import hashlib


def file_sha256(path: str) -> str:
    """Hex sha256 of the file at `path`; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
