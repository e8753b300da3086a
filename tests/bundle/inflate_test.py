"""The gunzip thread: gzip's output, gzip's complaints, and a reader that stops early."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import threading

import pytest

from agentkit.bundle.inflate import PIECE, SWITCH_INTERVAL, Gunzip, GzipError


def _all(data: bytes) -> bytes:
    with Gunzip(io.BytesIO(data)) as g:
        return b"".join(iter(g.read, b""))


def test_gunzip_matches_gzip_dc_across_members() -> None:
    data = os.urandom(PIECE) + b"a" * (3 * PIECE)  # several pieces, some from little input
    doubled = gzip.compress(data) + gzip.compress(b"tail")
    expected = subprocess.run(["gzip", "-dc"], input=doubled, capture_output=True,
                              check=True).stdout
    assert _all(doubled) == expected == data + b"tail"


def test_gunzip_zero_padding_is_ignored_but_garbage_is_not() -> None:
    packed = gzip.compress(b"x" * 1000)
    assert _all(packed + b"\0" * 10_000) == b"x" * 1000
    with pytest.raises(GzipError) as exc:
        _all(packed + b"\0" * 10 + b"junk")
    assert str(exc.value) == "gzip: decompression OK, trailing garbage ignored"


def test_gunzip_reader_stopping_early_ends_the_thread() -> None:
    packed = gzip.compress(os.urandom(1000) + b"z" * (40 * PIECE))
    before = threading.active_count()
    with Gunzip(io.BytesIO(packed)) as g:
        assert len(g.read()) > 0  # the thread is now blocked on a full queue
    assert threading.active_count() == before


def test_gunzip_drain_reports_what_follows_the_tar_data() -> None:
    with Gunzip(io.BytesIO(gzip.compress(b"data") + b"?")) as g:
        assert g.read() == b"data"
        with pytest.raises(GzipError):
            g.drain()
        assert g.read() == b""  # ended: the error is reported once


def test_gunzip_a_member_after_zero_padding_is_garbage() -> None:
    # even when the zeros end exactly where a read ends (gzip -dc exits 2 on this too)
    from agentkit.bundle.inflate import READ

    packed = gzip.compress(b"x" * 1000)
    data = packed + b"\0" * (READ - len(packed)) + packed
    assert subprocess.run(["gzip", "-dc"], input=data, capture_output=True).returncode == 2
    with pytest.raises(GzipError) as exc:
        _all(data)
    assert str(exc.value) == "gzip: decompression OK, trailing garbage ignored"


def test_gunzip_switch_interval_is_short_while_it_runs_and_restored_after() -> None:
    before = sys.getswitchinterval()
    with Gunzip(io.BytesIO(gzip.compress(b"x"))) as g:
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        assert g.read() == b"x"
    assert sys.getswitchinterval() == before
