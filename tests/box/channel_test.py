"""Channel: framed JSON with descriptors over a real Unix socketpair; batches of values."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.box.channel import BATCH, MAX_FDS, MAX_MESSAGE, Channel, ChannelClosed, batches

_HEADER = struct.Struct("!II")  # the frame header as the module documents it


@pytest.fixture
def pair() -> Iterator[tuple[Channel, Channel]]:
    a, b = Channel.pair()
    yield a, b
    a.close()
    b.close()


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text()
                     | st.floats(allow_nan=False, allow_infinity=False),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@settings(max_examples=60)
@given(st.lists(st.dictionaries(st.text(), _json, max_size=5), min_size=1, max_size=4))
def test_channel_messages_arrive_whole_and_in_order(messages: list[dict[str, Any]]) -> None:
    a, b = Channel.pair()
    try:
        for m in messages:
            a.send(m)
        assert [b.receive() for _ in messages] == [(m, []) for m in messages]
    finally:
        a.close()
        b.close()


def test_channel_descriptors_arrive_with_their_message(pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        a.send({"n": 1}, [w1, w2])
        a.send({"n": 2})
        message, fds = b.receive()
        assert (message, len(fds)) == ({"n": 1}, 2)
        for fd, text in zip(fds, (b"one", b"two")):
            os.write(fd, text)
            os.close(fd)
        assert (os.read(r1, 10), os.read(r2, 10)) == (b"one", b"two")
        assert b.receive() == ({"n": 2}, [])
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


def test_channel_send_too_many_descriptors_is_refused(pair: tuple[Channel, Channel]) -> None:
    with pytest.raises(ValueError) as exc:
        pair[0].send({}, [0] * (MAX_FDS + 1))
    assert str(exc.value) == f"at most {MAX_FDS} descriptors per message"


def test_channel_receive_header_in_two_reads(pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    header = _HEADER.pack(2, 0)
    a.sock.sendall(header[:3])
    # the rest only once the receiver has read the first part on its own
    later = threading.Timer(0.3, a.sock.sendall, (header[3:] + b"{}",))
    later.start()
    try:
        assert b.receive() == ({}, [])
    finally:
        later.join()


def test_channel_receive_oversized_frame_is_closed(pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    a.sock.sendall(_HEADER.pack(MAX_MESSAGE + 1, 0))
    with pytest.raises(ChannelClosed) as exc:
        b.receive()
    assert str(exc.value) == f"a malformed frame ({MAX_MESSAGE + 1} bytes, 0/0 fds)"


def test_channel_receive_fd_count_mismatch_closes_what_came(
        pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    r, w = os.pipe()
    try:
        socket.send_fds(a.sock, [_HEADER.pack(2, 3)], [w])
        before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(ChannelClosed) as exc:
            b.receive()
        assert str(exc.value) == "a malformed frame (2 bytes, 3/1 fds)"
        assert set(os.listdir("/proc/self/fd")) == before  # the one received was closed
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("payload", [b"[1]", b"not json", b"\xff\xfe", b"7"])
def test_channel_receive_not_an_object_is_closed(pair: tuple[Channel, Channel],
                                                 payload: bytes) -> None:
    a, b = pair
    a.sock.sendall(_HEADER.pack(len(payload), 0) + payload)
    with pytest.raises(ChannelClosed) as exc:
        b.receive()
    assert str(exc.value) == "a frame that is not a JSON object"


def test_channel_receive_after_close_is_closed(pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    a.close()
    with pytest.raises(ChannelClosed) as exc:
        b.receive()
    assert str(exc.value) == "the other side closed the channel"


def test_channel_receive_close_mid_message_is_closed(pair: tuple[Channel, Channel]) -> None:
    a, b = pair
    a.sock.sendall(_HEADER.pack(10, 0) + b'{"a"')
    a.close()
    with pytest.raises(ChannelClosed) as exc:
        b.receive()
    assert str(exc.value) == "the other side closed the channel mid-message"


class Item(NamedTuple):
    name: str
    fd: int | None


def test_batches_nothing_is_no_message() -> None:
    assert list(batches([])) == []


def test_batches_descriptors_become_indices_per_message() -> None:
    values: list[tuple[Item, int | None]] = [(Item(f"f{i}", None), 1000 + i)
                                             for i in range(MAX_FDS + 5)]
    values.insert(1, (Item("plain", None), None))
    out = list(batches(values))
    assert out == [
        ([["f0", 0], ["plain", None]] + [[f"f{i}", i] for i in range(1, MAX_FDS)],
         list(range(1000, 1000 + MAX_FDS))),
        ([[f"f{i}", i - MAX_FDS] for i in range(MAX_FDS, MAX_FDS + 5)],
         list(range(1000 + MAX_FDS, 1005 + MAX_FDS)))]


@given(st.integers(0, 3 * BATCH + 1))
@settings(max_examples=15)
def test_batches_values_without_descriptors_are_cut_at_batch(n: int) -> None:
    out = list(batches((Item(str(i), None), None) for i in range(n)))
    assert [len(b) for b, _ in out] == [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    assert [v for b, _ in out for v in b] == [[str(i), None] for i in range(n)]
    assert all(fds == [] for _, fds in out)
