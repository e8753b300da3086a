"""digests: sha256 of whole files, and of sparse files without reading their holes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit import digests


def test_file_sha256_is_hashlibs(tmp_path: Path) -> None:
    data = os.urandom(3 << 20 | 17)  # more than one block, not a whole number of them
    (tmp_path / "f").write_bytes(data)
    assert digests.file_sha256(str(tmp_path / "f")) == hashlib.sha256(data).hexdigest()


def test_file_sha256_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        digests.file_sha256(str(tmp_path / "none"))


_PIECES = st.lists(st.tuples(st.integers(0, 3 << 20), st.binary(min_size=1, max_size=5000)),
                   max_size=5)


@settings(max_examples=40, deadline=None)
@given(_PIECES, st.integers(0, 4 << 20), st.integers(-10, 0))
def test_sparse_sha256_is_the_sha256_of_what_the_file_reads_as(
        tmp_path_factory: pytest.TempPathFactory, pieces: list[tuple[int, bytes]],
        length: int, past: int) -> None:
    path = tmp_path_factory.mktemp("sparse") / "f"
    with open(path, "wb") as f:
        f.truncate(length)  # a hole, then data written here and there
        for offset, data in pieces:
            f.seek(offset)
            f.write(data)
    content = path.read_bytes()
    size = max(0, len(content) + past)  # also asked for less than there is
    fd = os.open(path, os.O_RDONLY)
    try:
        assert digests.sparse_sha256(fd, size) == hashlib.sha256(content[:size]).hexdigest()
    finally:
        os.close(fd)


def test_sparse_sha256_of_a_pipe_is_os_error() -> None:
    r, w = os.pipe()
    try:
        with pytest.raises(OSError):
            digests.sparse_sha256(r, 10)
    finally:
        os.close(r)
        os.close(w)


def test_sparse_sha256_data_beyond_size_after_a_hole_is_not_counted(tmp_path: Path) -> None:
    # the file grew past the size asked for: only the hole's first `size` zeros are hashed
    path = tmp_path / "f"
    with open(path, "wb") as f:
        f.seek(1 << 16)
        f.write(b"later")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert digests.sparse_sha256(fd, 100) == hashlib.sha256(bytes(100)).hexdigest()
    finally:
        os.close(fd)
