"""Helpers for the tests that start a real server on 127.0.0.1 (moto's S3, nginx): a free
port, and waiting for the server to accept connections while it is still running."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(proc: subprocess.Popen[Any], port: int, what: str, seconds: float = 30) -> None:
    """Until 127.0.0.1:port accepts a connection; fails with the server's stderr if it
    exits first, or after `seconds`."""
    end = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited: "
                                     f"{proc.stderr.read() if proc.stderr else ''}") from None
            if time.monotonic() >= end:
                raise AssertionError(f"{what} did not start in {seconds:g} s") from None
            time.sleep(0.05)
