"""verify's handle on a box: start it, run jobs in it, ask what changed, stop it.

Everything the box sends is checked (items.py, wire.py; the job handler's results by its
caller) and every wait has a deadline: the box runs the bundle's code, and neither its
answers nor its silence may break verify.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

import agentkit
from agentkit import proc
from agentkit.box import ids, wire
from agentkit.box.channel import Channel, ChannelClosed, batches
from agentkit.box.errors import BoxError, Unavailable
from agentkit.box.items import BadMessage, Change, Item, change_from
from agentkit.box.spec import Spec

START_TIMEOUT = 120.0  # seconds for the box to be made (copying Install's files included)
REPLY_SLACK = 60.0  # beyond a request's own deadline


def why_unavailable() -> str | None:
    """What keeps this machine from making a box, known without trying; None: try."""
    def read(path: str) -> str | None:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return None

    if not sys.platform.startswith("linux"):
        return f"the hook box needs Linux namespaces; this is {sys.platform}"
    if read("/proc/sys/user/max_user_namespaces") == "0":
        return ("user namespaces are disabled (user.max_user_namespaces = 0): "
                "sysctl -w user.max_user_namespaces=15000")
    if os.geteuid() != 0:
        if read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
            return ("unprivileged user namespaces are disabled: "
                    "sysctl -w kernel.unprivileged_userns_clone=1")
        if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
            return ("AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): "
                    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run verify "
                    "as root")
    filesystems = read("/proc/filesystems") or ""
    if "overlay" not in filesystems:
        return "the kernel has no overlayfs (modprobe overlay)"
    return None


def _stage_env() -> dict[str, str]:
    parent = os.path.dirname(os.path.dirname(os.path.abspath(agentkit.__file__)))
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": parent, "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"}


class Box:
    def __init__(self, process: proc.Process, channel: Channel, errors: IO[bytes],
                 spec: Spec) -> None:
        self.process = process
        self.channel = channel
        self.errors = errors
        self.spec = spec
        self.notes: list[str] = []

    @classmethod
    def start(cls, spec: Spec, items: Iterable[tuple[Item, int | None]]) -> Box:
        """Make a box showing `items` over this machine; raises Unavailable or BoxError."""
        ours, theirs = Channel.pair()
        errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        process = proc.spawn_passing(
            [sys.executable, "-m", "agentkit.box.stage", str(theirs.fileno())],
            theirs.fileno(), errors, _stage_env())
        theirs.close()
        box = cls(process, ours, errors, spec)
        try:
            box._handshake(items)
        except BaseException:
            box.close()
            raise
        return box

    def _handshake(self, items: Iterable[tuple[Item, int | None]]) -> None:
        self.channel.sock.settimeout(START_TIMEOUT)
        self.channel.send({"op": "start", "spec": self.spec.to_json()})
        message = self._receive()[0]
        if message.get("op") == "map":
            try:
                ids.write(self.spec.idmap, int(message["pid"]))
            except (OSError, ValueError, KeyError) as exc:
                self.channel.send({"op": "nomap", "message": str(exc)})
                raise Unavailable(f"the box's user ids could not be mapped: {exc}") from None
            self.channel.send({"op": "mapped"})
            message = self._receive()[0]
        self._expect(message, "entered")
        for batch, fds in batches(items):
            try:
                self._send({"op": "items", "items": batch}, fds)
            finally:
                for fd in fds:
                    os.close(fd)
        self._send({"op": "build"})
        ready = self._receive()[0]
        self._expect(ready, "ready")
        self.notes = [str(n) for n in ready.get("notes", [])]

    def _expect(self, message: dict[str, Any], op: str) -> None:
        if message.get("op") == op:
            return
        if message.get("op") == "unavailable":
            raise Unavailable(str(message.get("message")))
        raise BoxError(f"the hook box failed: {message.get('message', message)}\n"
                       f"{message.get('trace', '')}{self._stderr()}")

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """Send; when the box has gone, what it said last is the error."""
        try:
            self.channel.send(message, fds or [])
        except OSError:  # EPIPE, ECONNRESET: read its last words
            last = self._receive()[0]
            self._expect(last, "never")

    def _stderr(self) -> str:
        with contextlib.suppress(OSError):
            self.errors.seek(0)
            return self.errors.read(65536).decode("utf-8", "replace")
        return ""

    def _receive(self) -> tuple[dict[str, Any], list[int]]:
        try:
            return self.channel.receive()
        except (ChannelClosed, socket.timeout, OSError) as exc:
            code = self.process.poll()
            reason = (f"it stopped answering for {self.channel.sock.gettimeout():.0f} s"
                      if isinstance(exc, socket.timeout) else
                      f"it was killed by signal {-code}" if code is not None and code < 0 else
                      f"it exited with status {code}" if code is not None else
                      f"its channel broke: {exc}")
            raise BoxError(f"the hook box stopped answering ({exc}; its exit status "
                           f"{code}){self._stderr()}", reason) from None

    # --- requests ------------------------------------------------------------------------------
    def run(self, jobs: list[dict[str, Any]], log: str, log_cap: int, deadline: float,
            log_fd: int | None = None) -> list[wire.Result]:
        """Run jobs; their output goes to `log_fd` (scripts.log as verify opened it), else
        to the box path `log` ("": nowhere)."""
        self.channel.sock.settimeout(deadline + REPLY_SLACK)
        self.channel.send({"op": "run", "jobs": jobs, "log": log, "log_cap": log_cap},
                          [] if log_fd is None else [log_fd])
        message, fds = self._receive()
        for fd in fds:
            os.close(fd)
        if message.get("op") != "ran" or not isinstance(message.get("results"), list):
            raise BoxError(f"the hook box answered {message.get('op')!r} to a run")
        self.notes += [str(n) for n in message.get("notes", []) if isinstance(n, str)]
        try:
            return wire.results(message["results"])
        except ValueError as exc:
            raise BoxError(f"the hook box sent a malformed result: {exc}") from None

    def diff(self) -> Iterator[tuple[Change, int | None]]:
        """What the hooks changed since the last diff; each regular file with a descriptor
        of its bytes, valid until the next item is taken."""
        self.channel.sock.settimeout(START_TIMEOUT)
        self.channel.send({"op": "diff"})
        while True:
            message, fds = self._receive()
            try:
                if message.get("op") == "diffed":
                    self.notes += [str(n) for n in message.get("notes", [])]
                    return
                if message.get("op") != "changes":
                    raise BoxError(f"the hook box answered {message.get('op')!r} to a diff")
                for raw in message.get("changes", []):
                    try:
                        change = change_from(raw, len(fds))
                    except BadMessage as exc:
                        raise BoxError(f"the hook box sent a malformed change: {exc}") from None
                    yield change, None if change.fd is None else fds[change.fd]
            finally:
                for fd in fds:
                    os.close(fd)

    def apply(self, items: Iterable[tuple[Item, int | None]]) -> tuple[int, list[str]]:
        """Write items into the running box; returns (unowned, failures)."""
        self.channel.sock.settimeout(START_TIMEOUT)
        unowned, failed = 0, []
        for batch, fds in batches(items):
            try:
                self.channel.send({"op": "apply", "items": batch}, fds)
            finally:
                for fd in fds:
                    os.close(fd)
            message = self._receive()[0]
            if message.get("op") != "applied":
                raise BoxError(f"the hook box answered {message.get('op')!r} to apply")
            unowned += int(message.get("unowned", 0))
            failed += [str(f) for f in message.get("failed", [])]
        return unowned, failed

    def services(self) -> list[dict[str, Any]]:
        """The units the hooks' systemctl touched: state, actions, the end of their log."""
        self.channel.sock.settimeout(START_TIMEOUT)
        self.channel.send({"op": "services"})
        message, fds = self._receive()
        for fd in fds:
            os.close(fd)
        if message.get("op") != "services" or not isinstance(message.get("units"), list):
            raise BoxError(f"the hook box answered {message.get('op')!r} to services")
        return [u for u in message["units"] if isinstance(u, dict)]

    def close(self) -> None:
        """Stop the box: pid 1 exits and takes every process of the box with it."""
        with contextlib.suppress(OSError):
            self.channel.send({"op": "stop"})
        self.channel.close()
        # a box stopped mid-request (verify interrupted) is not waited for: it is killed
        if proc.wait(self.process, 2) is None:
            self.process.kill()
            self.process.wait()
        self.errors.close()
