"""One hook script, run exactly as the agent runs it (hook_executor.rb, linux_util.rb), plus
the one thing the agent does not do: make sure nothing it started outlives it.

Command: `<abs>`, `sudo <abs>`, `su <runas> -c <abs>` or `sudo su <runas> -c <abs>`, split on
whitespace (Ruby's spawn of a string without shell metacharacters), no shell, stdin closed,
its own process group, the agent's environment plus LIFECYCLE_EVENT and friends. One deadline
for the exit and both output streams; on expiry SIGTERM to the group (the agent stops there;
we then SIGKILL whatever is left after a grace period). 2.x escalates to SIGKILL after 5 s,
execs a script without shebang directly (Exec format error) and reports an open stderr as
STDOUT (src/lifecycle_event/script.rs, executor.rs).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from typing import IO, Callable

from agentkit import proc
from agentkit.agent.result import (
    OUTPUTS_LEFT_OPEN,
    SCRIPT_EXECUTABILITY,
    SCRIPT_FAILED,
    SCRIPT_MISSING,
    SCRIPT_TIMED_OUT,
    SUCCEEDED,
    ScriptRun,
)
from agentkit.appspec import ruby

GRACE = 2.0  # seconds between our SIGTERM and SIGKILL of survivors (the agent never kills)
SHELL_META = re.compile(r"[*?{}\[\]<>()~&|\\$;'`\"\n#=%]")


@dataclass(frozen=True)
class Job:
    event: str
    archive: str  # deployment-archive
    location: str
    timeout: int
    runas: str | None
    sudo: bool
    env: dict[str, str]
    generation: str = "1"


def log_line(log: IO[str], message: str) -> None:
    """scripts.log: local time to the second, a space, the message with its own newline."""
    log.write(time.strftime("%Y-%m-%d %H:%M:%S ") + message)
    log.flush()


def _argv(job: Job, path: str) -> list[str]:
    words = [path]
    if job.runas:
        words = ["su", job.runas, "-c", path]
    if job.sudo:
        words = ["sudo", *words]
    command = " ".join(words)
    if SHELL_META.search(command):
        return ["/bin/sh", "-c", command]
    return command.split()


def _prefix(job: Job) -> str:
    who = f" run as user {job.runas}" if job.runas else ""
    return f"Script at specified location: {job.location}{who}"


def _spawn(job: Job, argv: list[str]) -> subprocess.Popen[bytes]:
    return proc.spawn_group(argv, job.env)


def _start(job: Job, path: str) -> subprocess.Popen[bytes] | ScriptRun:
    argv = _argv(job, path)
    try:
        return _spawn(job, argv)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC and job.generation == "1":
            return _spawn(job, ["/bin/sh", *argv])  # Ruby retries ENOEXEC under /bin/sh
        if job.generation == "2":
            message = f"{os.strerror(exc.errno or 0)} (os error {exc.errno})"
        else:
            name = errno.errorcode.get(exc.errno or 0, "EIO")
            message = (f"{_prefix(job)} failed with error Errno::{name} with message "
                       f"{os.strerror(exc.errno or 0)} - {path}")
        return ScriptRun(job.location, job.runas, None, 0.0, SCRIPT_FAILED, message)


def _family(proc: subprocess.Popen[bytes]) -> set[int]:
    """The script's process group plus every descendant (a setsid grandchild included)."""
    import psutil

    found: set[int] = set()
    with contextlib.suppress(psutil.Error):
        found.update(c.pid for c in psutil.Process(proc.pid).children(recursive=True))
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(p.pid) == proc.pid:
                found.add(p.pid)
    return found


def reap(proc: subprocess.Popen[bytes], grace: float = GRACE) -> None:
    """The agent sends SIGTERM to the group and stops there; verify must not hang or leave
    processes behind, so after `grace` every survivor gets SIGKILL."""
    family = _family(proc) | {proc.pid}
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()
        if not any(_alive(pid) for pid in family - {proc.pid}) and proc.returncode is not None:
            break
        time.sleep(0.05)
    family |= _family(proc)
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pump(proc: subprocess.Popen[bytes], deadline: float, log: IO[str],
          output: list[tuple[str, str]]) -> set[str]:
    """Copy both streams line by line to scripts.log until EOF or the deadline; returns the
    streams still open."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    partial = {"stdout": b"", "stderr": b""}
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    open_streams = {"stdout", "stderr"}

    def emit(name: str, raw: bytes, newline: bool) -> None:
        text = raw.decode("utf-8", "replace")
        output.append((name, text))
        log_line(log, f"[{name}]{text}" + ("\n" if newline else ""))

    while open_streams:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(timeout=min(left, 0.5)):
            name = key.data
            chunk = os.read(key.fd, 65536)
            if chunk:
                *lines, partial[name] = (partial[name] + chunk).split(b"\n")
                for line in lines:
                    emit(name, line, True)
                continue
            sel.unregister(key.fileobj)
            open_streams.discard(name)
            if partial[name]:  # a last line without newline is logged without one
                emit(name, partial[name], False)
                partial[name] = b""
    sel.close()
    return open_streams


def run(job: Job, log: IO[str], *, grace: float = GRACE,
        now: Callable[[], float] = time.monotonic) -> ScriptRun:
    path = ruby.file_join(job.archive, job.location)  # hook_executor.rb#script_absolute_path
    if not os.path.exists(path):  # the message shows it File.expand_path'ed
        return ScriptRun(job.location, job.runas, None, 0.0, SCRIPT_MISSING,
                         f"Script does not exist at specified location: {os.path.abspath(path)}")
    if not os.access(path, os.X_OK):  # (the agent says so in its own log, not scripts.log)
        try:
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            return ScriptRun(job.location, job.runas, None, 0.0, SCRIPT_EXECUTABILITY,
                             f"Unable to set script at specified location: {job.location} as "
                             "executable")
    log_line(log, f"Script - {job.location}\n")
    started = now()
    proc = _start(job, path)
    if isinstance(proc, ScriptRun):
        return proc
    deadline = started + job.timeout
    output: list[tuple[str, str]] = []
    open_streams = _pump(proc, deadline, log, output)
    try:
        code = proc.wait(timeout=max(deadline - now(), 0))
    except subprocess.TimeoutExpired:  # (the agent's own log says "timed out")
        reap(proc, 5.0 if job.generation == "2" else grace)
        return ScriptRun(job.location, job.runas, None, now() - started, SCRIPT_TIMED_OUT,
                         f"Script at specified location: {job.location} failed to complete in "
                         f"{job.timeout} seconds", tuple(output))
    if open_streams:
        # The script exited but a child it left behind holds a stream: the agent waits to the
        # deadline and fails; we then stop the child, which the agent does not.
        reap(proc, grace)
        stream = "STDOUT" if "stdout" in open_streams or job.generation == "2" else "STDERR"
        return ScriptRun(job.location, job.runas, code, now() - started, OUTPUTS_LEFT_OPEN,
                         f"Script at specified location: {job.location} failed to close "
                         f"{stream}", tuple(output))
    if code != 0:
        shown = "" if code < 0 and job.generation == "1" else str(1 if code < 0 else code)
        return ScriptRun(job.location, job.runas, code, now() - started, SCRIPT_FAILED,
                         f"{_prefix(job)} failed with exit code {shown}", tuple(output))
    return ScriptRun(job.location, job.runas, 0, now() - started, SUCCEEDED, "",
                     tuple(output))
