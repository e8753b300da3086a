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

import codecs
import contextlib
import errno
import os
import pwd
import re
import selectors
import signal
import stat
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Any, Callable, NamedTuple, Protocol

# at the top: inside the box this module runs after pivot_root, where no import can be found
import psutil

from agentkit.agent.script_run import (
    OUTPUTS_LEFT_OPEN,
    SCRIPT_EXECUTABILITY,
    SCRIPT_FAILED,
    SCRIPT_MISSING,
    SCRIPT_TIMED_OUT,
    SUCCEEDED,
    ScriptRun,
)
from agentkit.appspec import ruby
from agentkit.proc import Process, spawn_group

GRACE = 2.0  # seconds between our SIGTERM and SIGKILL of survivors (the agent never kills)
# What the report keeps of a script's output (scripts.log gets all of it, as the agent's):
KEPT_LINES = 1000  # the last lines
LINE_CAP = 8192  # characters of each
PARTIAL_CAP = 1 << 20  # bytes of an unfinished line held in memory; the rest waits in a memfd
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


class Log(Protocol):
    """Where scripts.log lines go: a text file, or a CappedLog over one."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def log_line(log: Log, message: str) -> None:
    """scripts.log: local time to the second, a space, the message with its own newline."""
    log.write(time.strftime("%Y-%m-%d %H:%M:%S ") + message)
    log.flush()


class CappedLog:
    """scripts.log that stops growing at `cap` bytes (the agent's grows without end; verify's
    must not fill this machine's disk), saying so once."""

    def __init__(self, log: Log, cap: int) -> None:
        self.log = log
        self.left = cap
        self.full = False

    def write(self, text: str) -> int:
        if self.full:
            return 0
        size = len(text.encode("utf-8", "surrogateescape"))
        if size > self.left:
            self.full = True
            self.log.write("\n[agentkit verify: scripts.log reached its size limit here; the "
                           "rest of the output is not written]\n")
            return 0
        self.left -= size
        return self.log.write(text)

    def flush(self) -> None:
        self.log.flush()


class _Line(NamedTuple):
    head: bytes  # the line's first PARTIAL_CAP bytes
    spill: int | None  # a memfd with the rest
    size: int


class _Lines:
    """Splits one output stream into lines, holding at most PARTIAL_CAP bytes of any."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.spill: int | None = None
        self.size = 0

    def feed(self, chunk: bytes) -> list[_Line]:
        out: list[_Line] = []
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                self._add(chunk[start:])
                return out
            self._add(chunk[start:nl])
            out.append(self.take())
            start = nl + 1

    def _add(self, part: bytes) -> None:
        if not part:
            return
        if self.spill is None and len(self.head) + len(part) <= PARTIAL_CAP:
            self.head += part
        else:
            if self.spill is None:
                self.spill = os.memfd_create("agentkit-line", os.MFD_CLOEXEC)
            view = memoryview(part)
            while view:
                view = view[os.write(self.spill, view):]
        self.size += len(part)

    def take(self) -> _Line:
        line = _Line(bytes(self.head), self.spill, self.size)
        self.head, self.spill, self.size = bytearray(), None, 0
        return line


def _kept(text: str, size: int) -> str:
    """A line as the report keeps it."""
    if size <= LINE_CAP and len(text) <= LINE_CAP:
        return text
    return f"{text[:LINE_CAP]}... [{size - LINE_CAP} more bytes in scripts.log]"


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


def _spawn(job: Job, argv: list[str], env: dict[str, str] | None = None) -> Process:
    return spawn_group(argv, job.env if env is None else env)


def _groups_denied() -> bool:
    """Whether this process may not call setgroups (a user namespace whose map its owner
    wrote without privilege: the box of a caller without a subordinate id range)."""
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def _su_in_place(job: Job, path: str) -> tuple[list[str], dict[str, str]] | None:
    """What `su USER -c PATH` runs, when USER is who this process already is and su could
    not run here: su sets its groups first, which a box without setgroups refuses (`su:
    cannot set groups`) where the instance's su succeeds. So the box runs it as su would
    (util-linux su-common.c: the user's shell from passwd, `-c PATH`; HOME and SHELL set,
    USER and LOGNAME too for a user other than root). None: run su itself."""
    if not job.runas or job.sudo or not _groups_denied():
        return None
    try:
        entry = pwd.getpwnam(job.runas)
    except KeyError:
        return None
    if entry.pw_uid != os.geteuid():
        return None
    shell = entry.pw_shell or "/bin/sh"
    env = dict(job.env, HOME=entry.pw_dir, SHELL=shell)
    if entry.pw_uid != 0:
        env.update(USER=entry.pw_name, LOGNAME=entry.pw_name)
    return [shell, "-c", path], env


def _start(job: Job, path: str) -> Process | ScriptRun:
    in_place = _su_in_place(job, path)
    if in_place is not None:
        try:
            return _spawn(job, *in_place)
        except OSError as exc:
            # passwd's shell cannot be run: su exits 127 (not found) or 126 (su-common.c)
            code = 127 if exc.errno == errno.ENOENT else 126
            return ScriptRun(job.location, job.runas, code, 0.0, SCRIPT_FAILED,
                             f"{_prefix(job)} failed with exit code {code}")
    argv = _argv(job, path)
    try:
        return _spawn(job, argv)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC and job.generation == "1":
            return _spawn(job, ["/bin/sh", *argv])  # Ruby retries ENOEXEC under /bin/sh
        if job.generation == "2":
            message = f"{os.strerror(exc.errno or 0)} (os error {exc.errno})"
        else:
            # Ruby's spawn names the program it could not run: the script, or sudo/su
            name = errno.errorcode.get(exc.errno or 0, "EIO")
            message = (f"{_prefix(job)} failed with error Errno::{name} with message "
                       f"{os.strerror(exc.errno or 0)} - {argv[0]}")
        return ScriptRun(job.location, job.runas, None, 0.0, SCRIPT_FAILED, message)


def _family(proc: Process) -> set[int]:
    """The script's process group plus every descendant (a setsid grandchild included).
    Asked while the script's own pid is still held (alive, or a zombie not yet reaped), so
    that neither its pid nor its group id can have been given to another process."""
    found: set[int] = set()
    with contextlib.suppress(psutil.Error):
        found.update(c.pid for c in psutil.Process(proc.pid).children(recursive=True))
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(p.pid) == proc.pid:
                found.add(p.pid)
    found.discard(proc.pid)
    return found


def exit_status(proc: Process, timeout: float) -> int | None:
    """The script's exit status once it has exited, within `timeout` seconds (None: still
    running); it is NOT reaped: while its zombie holds the pid, no other process can get
    that pid or group id, so reap() cannot signal a stranger. In a box's pid namespace pids
    are small and given again at once (a SIGKILL meant for the script's family once reached
    a service the box had started since)."""
    end = time.monotonic() + max(timeout, 0.0)
    while True:
        found = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if found is not None and found.si_pid == proc.pid:
            return found.si_status if found.si_code == os.CLD_EXITED else -found.si_status
        left = end - time.monotonic()
        if left <= 0:
            return None
        _wait_for_exit(proc.pid, left)


def _wait_for_exit(pid: int, seconds: float) -> None:
    """Sleep until the process exits or `seconds` pass: on its pidfd where the kernel has
    them (5.3+), else in short steps."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        time.sleep(min(seconds, 0.02))
        return
    try:
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        sel.select(seconds)
        sel.close()
    finally:
        os.close(fd)


def reap(proc: Process, grace: float = GRACE) -> None:
    """The agent sends SIGTERM to the group and stops there; verify must not hang or leave
    processes behind, so after `grace` every survivor gets SIGKILL. The script is reaped
    last: until then its pid and group id are its own (exit_status); each member of its
    family is held by a pidfd from when it was found, so a signal never reaches a process
    that got a member's pid after it exited."""
    held: dict[int, int] = {}
    try:
        _hold_family(proc, held)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            if exit_status(proc, 0) is not None and not any(_alive(pid) for pid in held):
                break
            time.sleep(0.05)
        _hold_family(proc, held)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid, fd in held.items():
            with contextlib.suppress(ProcessLookupError):
                if fd < 0:  # a kernel without pidfds (before 5.3)
                    os.kill(pid, signal.SIGKILL)
                else:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        for fd in held.values():
            if fd >= 0:
                os.close(fd)
    proc.wait()


def _hold_family(proc: Process, held: dict[int, int]) -> None:
    """A pidfd of each member of the script's family not held yet, checked after it was
    taken to be the member found (in the script's group, or below the script, whose pid is
    still its own)."""
    for pid in _family(proc):
        if pid in held:
            continue
        try:
            fd = os.pidfd_open(pid)
        except AttributeError:
            held[pid] = -1
            continue
        except OSError as exc:
            if exc.errno == errno.ENOSYS:
                held[pid] = -1
            continue  # gone already
        if _still_ours(pid, proc.pid):
            held[pid] = fd
        else:
            os.close(fd)


def _still_ours(pid: int, script: int) -> bool:
    try:
        if os.getpgid(pid) == script:
            return True
        return script in {p.pid for p in psutil.Process(pid).parents()}
    except (ProcessLookupError, psutil.Error):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class _Output:
    """What the report keeps of a script's output: the last KEPT_LINES lines, each cut at
    LINE_CAP; and how many lines were left out."""

    def __init__(self) -> None:
        self.lines: deque[tuple[str, str]] = deque(maxlen=KEPT_LINES)
        self.count = 0

    def add(self, name: str, text: str) -> None:
        self.lines.append((name, text))
        self.count += 1

    @property
    def dropped(self) -> int:
        return self.count - len(self.lines)


def _emit(log: Log, output: _Output, name: str, line: _Line, newline: bool) -> None:
    """One line to scripts.log, whole, and its start to the report."""
    text = line.head.decode("utf-8", "replace")
    if line.spill is None:
        log_line(log, f"[{name}]{text}" + ("\n" if newline else ""))
        output.add(name, _kept(text, line.size))
        return
    log_line(log, f"[{name}]{text}")
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    os.lseek(line.spill, 0, os.SEEK_SET)
    while chunk := os.read(line.spill, 1 << 20):
        log.write(decoder.decode(chunk))
    log.write(decoder.decode(b"", final=True) + ("\n" if newline else ""))
    log.flush()
    os.close(line.spill)
    output.add(name, _kept(text, line.size))


def _pump(proc: Process, deadline: float, log: Log,
          output: _Output) -> set[str]:
    """Copy both streams line by line to scripts.log until EOF or the deadline; returns the
    streams still open. Memory stays bounded whatever the script prints."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    lines = {"stdout": _Lines(), "stderr": _Lines()}
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    open_streams = {"stdout", "stderr"}
    while open_streams:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(timeout=min(left, 0.5)):
            name = key.data
            chunk = os.read(key.fd, 65536)
            if chunk:
                for line in lines[name].feed(chunk):
                    _emit(log, output, name, line, True)
                continue
            sel.unregister(key.fileobj)
            open_streams.discard(name)
            rest = lines[name].take()
            if rest.size:  # a last line without newline is logged without one
                _emit(log, output, name, rest, False)
    sel.close()
    for pending in lines.values():  # the deadline came mid-line
        if pending.spill is not None:
            os.close(pending.spill)
    return open_streams


def run(job: Job, log: Log, *, grace: float = GRACE,
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
    output = _Output()
    try:
        open_streams = _pump(proc, deadline, log, output)
        exited = exit_status(proc, deadline - now())
        if exited is None:
            raise subprocess.TimeoutExpired(proc.args, job.timeout)
        code = exited
    except subprocess.TimeoutExpired:  # (the agent's own log says "timed out")
        reap(proc, 5.0 if job.generation == "2" else grace)
        return ScriptRun(job.location, job.runas, None, now() - started, SCRIPT_TIMED_OUT,
                         f"Script at specified location: {job.location} failed to complete in "
                         f"{job.timeout} seconds", tuple(output.lines), output.dropped)
    except BaseException:  # verify itself is stopped (Ctrl-C, SIGTERM): so is the script
        reap(proc, 0.5)
        raise
    if open_streams:
        # The script exited but a child it left behind holds a stream: the agent waits to the
        # deadline and fails; we then stop the child, which the agent does not.
        reap(proc, grace)
        stream = "STDOUT" if "stdout" in open_streams or job.generation == "2" else "STDERR"
        return ScriptRun(job.location, job.runas, code, now() - started, OUTPUTS_LEFT_OPEN,
                         f"Script at specified location: {job.location} failed to close "
                         f"{stream}", tuple(output.lines), output.dropped)
    proc.wait()  # the zombie held the script's pid until here
    if code != 0:
        shown = "" if code < 0 and job.generation == "1" else str(1 if code < 0 else code)
        return ScriptRun(job.location, job.runas, code, now() - started, SCRIPT_FAILED,
                         f"{_prefix(job)} failed with exit code {shown}", tuple(output.lines),
                         output.dropped)
    return ScriptRun(job.location, job.runas, 0, now() - started, SUCCEEDED, "",
                     tuple(output.lines), output.dropped)


def run_jobs(jobs: list[dict[str, Any]], log: IO[str], cap: int) -> list[dict[str, Any]]:
    """The box's job handler (agentkit.box.wire): an event's scripts in order, each a Job as
    JSON, stopping at the first that fails as hook_executor.rb's caller does; scripts.log grows
    by `cap` bytes at most. Runs inside the box, as its pid 1."""
    capped = CappedLog(log, cap)
    results = []
    for raw in jobs:
        result = run(Job(**raw), capped)
        results.append(result.to_json())
        if result.error_code != SUCCEEDED:
            break
    return results
