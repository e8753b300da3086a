"""The box's one line to verify: a Unix stream socket carrying framed JSON messages, each
with up to MAX_FDS file descriptors (unix(7) SCM_RIGHTS).

A frame is an 8-byte header (JSON length, number of descriptors), sent with the descriptors,
then the JSON. The kernel never lets a read straddle descriptors sent with another message,
so reading the header first keeps frames and descriptors together. Every length is bounded:
a box whose processes took over its side of the channel cannot make verify hold more than
MAX_MESSAGE bytes at once.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

MAX_FDS = 200  # below SCM_MAX_FD (253)
MAX_MESSAGE = 64 << 20
_HEADER = struct.Struct("!II")


class ChannelClosed(EOFError):
    """The other side is gone."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, message: dict[str, Any], fds: list[int] = ()) -> None:  # type: ignore[assignment]
        data = json.dumps(message, separators=(",", ":")).encode("utf-8", "surrogateescape")
        if len(fds) > MAX_FDS:
            raise ValueError(f"at most {MAX_FDS} descriptors per message")
        header = _HEADER.pack(len(data), len(fds))
        if fds:
            socket.send_fds(self.sock, [header], list(fds))
        else:
            self.sock.sendall(header)
        self.sock.sendall(data)

    def receive(self) -> tuple[dict[str, Any], list[int]]:
        """The next message and the descriptors that came with it (the caller closes them)."""
        header, fds = self._header()
        size, count = _HEADER.unpack(header)
        if size > MAX_MESSAGE or count != len(fds):
            for fd in fds:
                os.close(fd)
            raise ChannelClosed(f"a malformed frame ({size} bytes, {count}/{len(fds)} fds)")
        data = self._exactly(size)
        try:
            message = json.loads(data.decode("utf-8", "surrogateescape"))
        except ValueError:
            message = None
        if not isinstance(message, dict):
            for fd in fds:
                os.close(fd)
            raise ChannelClosed("a frame that is not a JSON object")
        return message, fds

    def _header(self) -> tuple[bytes, list[int]]:
        data, fds, _, _ = socket.recv_fds(self.sock, _HEADER.size, MAX_FDS)
        if not data:
            for fd in fds:
                os.close(fd)
            raise ChannelClosed("the other side closed the channel")
        if len(data) < _HEADER.size:
            data += self._exactly(_HEADER.size - len(data))
        return data, list(fds)

    def _exactly(self, size: int) -> bytes:
        parts = []
        while size:
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise ChannelClosed("the other side closed the channel mid-message")
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)


class _WithFd(Protocol):
    """A value that crosses the channel as a JSON list, a descriptor's index in its `fd`."""

    def _replace(self, *, fd: int) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


BATCH = 2000  # values a message carries at most (a message is read whole)


def batches(values: Iterable[tuple[_WithFd, int | None]]
            ) -> Iterator[tuple[list[list[Any]], list[int]]]:
    """Values with their descriptors, as messages: at most MAX_FDS descriptors and BATCH
    values each; a value's `fd` becomes its descriptor's index in the message."""
    batch: list[list[Any]] = []
    fds: list[int] = []
    for value, fd in values:
        if fd is not None:
            value = value._replace(fd=len(fds))
            fds.append(fd)
        batch.append(list(value))
        if len(fds) >= MAX_FDS or len(batch) >= BATCH:
            yield batch, fds
            batch, fds = [], []
    if batch or fds:
        yield batch, fds
