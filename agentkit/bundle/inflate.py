"""gunzip in a thread, as `gzip -dc` under `tar -z` does it.

zlib releases the GIL while it inflates, so a thread decompresses on the other core while the
main thread reads tar headers. It needs about 60% of the CPU of a `gzip -dc` process (measured
in bench/verify_bundle.py's bundle), and every failure `gzip -dc` reports is raised here too:
the agent's `tar -xzf` exits 2 on all of them, so DownloadBundle fails (GNU tar reads its pipe
to the end even after the end-of-archive blocks, so trailing garbage counts).
"""

from __future__ import annotations

import queue
import sys
import threading
import zlib
from types import TracebackType
from typing import BinaryIO, Union

PIECE = 2 << 20  # decompressed bytes handed over at once: few handovers, bounded memory
AHEAD = 4  # pieces decompressed ahead of the reader (8 MB at most)
READ = 1 << 18
# The thread needs the GIL back after each zlib call, while the main thread is busy in Python
# reading headers: with the default 5 ms switch interval it waits up to that long each time,
# and inflating is the longest step of DownloadBundle (bench/verify_bundle.py: 0.1 ms takes
# ~0.15 s off 20,000 files). Set while the thread runs.
SWITCH_INTERVAL = 1e-4
_MAGIC = b"\x1f\x8b"


class GzipError(OSError):
    """What `gzip -dc` would have complained about."""


Item = Union[bytes, BaseException, None]  # data, the failure, or the end


class Gunzip:
    """A readable stream of the decompressed bytes of a gzip file (all its members)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._queue: queue.Queue[Item] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._ended = False
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run, name="gunzip", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            sys.setswitchinterval(self._switch)
            raise

    def read(self, _size: int = -1) -> bytes:
        """The next piece (of any size); b"" at the end. Raises GzipError."""
        if self._ended:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if item is None:
            self._ended = True
            return b""
        return item

    def drain(self) -> None:
        """Read to the end, as GNU tar does after the end-of-archive: raises what gzip would
        report about the rest of the file."""
        while self.read():
            pass

    def close(self) -> None:
        self._stop.set()  # a blocked put gives up within 0.1 s
        try:
            self._thread.join()
        finally:
            sys.setswitchinterval(self._switch)

    def __enter__(self) -> Gunzip:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- the thread --------------------------------------------------------------------------
    def _put(self, item: Item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._inflate()
        except zlib.error as exc:
            what = "crc error" if "data check" in str(exc) else \
                "length error" if "length check" in str(exc) else "format violated"
            self._put(GzipError(f"gzip: invalid compressed data--{what}"))
        except BaseException as exc:  # handed to the reader, raised there
            self._put(exc)
        else:
            self._put(None)

    def _inflate(self) -> None:
        member: zlib._Decompress | None = zlib.decompressobj(31)
        data = b""
        padding = False  # zeros came after a member: from there on only zeros may follow
        while not self._stop.is_set():
            if not data:
                data = self._raw.read(READ)
                if not data:
                    self._finish(member)
                    return
            if member is None:  # between members: another one, zeros, or garbage
                if not padding and (data.startswith(_MAGIC) or data == _MAGIC[:1]):
                    member = zlib.decompressobj(31)
                elif data.strip(b"\0"):
                    raise GzipError("gzip: decompression OK, trailing garbage ignored")
                else:
                    data, padding = b"", True  # gzip ignores zeros after the last member
                    continue
            piece = member.decompress(data, PIECE)
            if piece and not self._put(piece):
                return
            if member.eof:
                data, member = member.unused_data, None
            else:
                data = member.unconsumed_tail

    def _finish(self, member: zlib._Decompress | None) -> None:
        """The file ended: what the last member still holds back, then whether it was whole."""
        while member is not None and not member.eof:
            piece = member.decompress(b"", PIECE)
            if not piece:
                raise GzipError("gzip: unexpected end of file")
            if not self._put(piece):
                return
