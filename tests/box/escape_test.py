"""The box is a boundary: a hook that tries every power over the host is refused each one, as
root and as an unprivileged user (CI runs this file both ways), and the host is unchanged."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.box.client import why_unavailable
from agentkit.cli import main

from ..archives import appspec, tar

pytestmark = pytest.mark.skipif(why_unavailable() is not None,
                                reason=f"no hook box here: {why_unavailable()}")

PROBE = r'''#!/usr/bin/env python3
import ctypes, errno, json, os, socket, sys, time
ARGS = json.loads(open(os.path.dirname(__file__) + "/args.json").read())
libc = ctypes.CDLL(None, use_errno=True)
found = {}
# never try these powers in this machine's own namespaces or on its own file systems (a broken
# box): stop here instead, and the test fails for want of the PROBE line
for ns, host in ARGS["guard"]["namespaces"].items():
    if os.readlink(f"/proc/self/ns/{ns}") == host:
        print(f"in the host's {ns} namespace: not probing")
        sys.exit(97)
for top, device in ARGS["guard"]["devices"].items():
    # (a top the box shows read-only, e.g. one holding mounts an overlay may not take, is
    # this machine's file system but cannot be written: that is no reason to stop)
    if os.path.isdir(top) and os.stat(top).st_dev == device and os.access(top, os.W_OK):
        print(f"{top} is the host's own file system: not probing")
        sys.exit(97)

def attempt(name, fn):
    try:
        fn()
        found[name] = "ALLOWED"
    except OSError as exc:
        found[name] = f"refused: {errno.errorcode.get(exc.errno, exc.errno)}"

def syscall_ok(result):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))

def write(path, text):
    with open(path, "w") as f:
        f.write(text)

def escape_chroot():
    os.makedirs("/tmp/jail", exist_ok=True)
    fd = os.open("/", os.O_RDONLY)
    os.chroot("/tmp/jail")
    os.fchdir(fd)
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    write(ARGS["canary"], "escaped")  # the host's canary, if this were the host's root
    os.stat(ARGS["work"])  # verify's own files are not shown either

def read(path):
    with open(path, "rb") as f:
        if not f.read(64):
            raise OSError(errno.ENODATA, "nothing")

def remount_then_write():
    syscall_ok(libc.mount(None, b"/proc/sys", None, 32 | 4096, None))  # rw again, in the box
    write("/proc/sys/vm/swappiness", "77")

def connect(address, family=socket.AF_UNIX):
    with socket.socket(family) as s:
        s.settimeout(2)
        s.connect(address)

attempt("sysctl", lambda: write("/proc/sys/vm/swappiness", "77"))
attempt("sysctl-kernel", lambda: write("/proc/sys/kernel/printk_ratelimit", "77"))
attempt("sysrq-trigger", lambda: write("/proc/sysrq-trigger", "h"))
attempt("kmsg", lambda: write("/dev/kmsg", "agentkit box escape\n"))
attempt("proc-kmsg", lambda: read("/proc/kmsg"))
attempt("kcore", lambda: read("/proc/kcore"))
attempt("clock", lambda: time.clock_settime(time.CLOCK_REALTIME, time.time() + 7200))
attempt("mknod-disk", lambda: os.mknod("/tmp/agentkit-disk", 0o60600, os.makedev(8, 0)))
attempt("host-disk", lambda: os.open("/dev/vda", os.O_RDONLY))
attempt("sysctl-after-remount", remount_then_write)
attempt("host-tcp", lambda: connect(("127.0.0.1", ARGS["port"]), socket.AF_INET))
attempt("host-unix", lambda: connect(ARGS["socket"]))
attempt("host-abstract", lambda: connect("\0" + ARGS["abstract"]))
attempt("kill-host", lambda: os.kill(ARGS["pid"], 9))
attempt("host-proc", lambda: read(f"/proc/{ARGS['pid']}/environ"))
attempt("ptrace-host", lambda: syscall_ok(libc.ptrace(16, ARGS["pid"], None, None)))
# powers the box has over itself only: the host's mounts and hostname are compared after
attempt("own-mount", lambda: syscall_ok(libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None)))
attempt("own-hostname", lambda: syscall_ok(libc.sethostname(b"owned", 5)))
attempt("chroot-escape", escape_chroot)
print("PROBE " + json.dumps(found, sort_keys=True))
'''

PROBES = ("sysctl", "sysctl-kernel", "sysctl-after-remount", "sysrq-trigger", "kmsg",
          "proc-kmsg", "kcore", "clock", "mknod-disk", "host-disk", "host-tcp", "host-unix",
          "host-abstract", "kill-host", "host-proc", "ptrace-host", "chroot-escape")
OWN = {"own-mount": "ALLOWED", "own-hostname": "ALLOWED"}
# the one reason each can be refused for, where only one is right
REASONS = {"sysctl": "EROFS", "sysctl-kernel": "EROFS", "clock": "EPERM", "mknod-disk": "EPERM",
           "host-disk": "ENOENT", "host-tcp": "ECONNREFUSED",
           "host-unix": "ENOENT",  # (TMPDIR shows empty; through --show: ECONNREFUSED)
           "host-abstract": "ECONNREFUSED", "kill-host": "ESRCH", "host-proc": "ENOENT",
           "chroot-escape": "ENOENT", "kmsg": "EROFS", "ptrace-host": "ESRCH"}


def _host() -> dict[str, Any]:
    """This machine's own namespaces and top-level file systems, which a hook in a working box
    never shares: the scripts below refuse to run their attacks when they find one of them."""
    tops = [f"/{name}" for name in sorted(os.listdir("/"))]
    return {"namespaces": {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in ("pid", "mnt",
                                                                            "user")},
            "devices": {top: os.stat(top).st_dev for top in tops
                        if os.path.isdir(top) and not os.path.islink(top)}}


def _guard() -> str:
    """Shell that stops a destructive script (exit 97) outside a working box."""
    host = _host()
    lines = [f'[ "$(readlink /proc/self/ns/{ns})" != "{link}" ] || {{ echo "in the host\'s '
             f'{ns} namespace: refusing"; exit 97; }}' for ns, link in host["namespaces"].items()]
    lines += [f'[ ! -d {top} ] || [ "$(stat -c %d {top})" != {device} ] || [ ! -w {top} ] || '
              f'{{ echo "{top} is the host\'s own file system: refusing"; exit 97; }}'
              for top, device in host["devices"].items()]
    return "\n".join(lines) + "\n"


def _sysctls() -> dict[str, str]:
    return {p: Path(p).read_text() for p in ("/proc/sys/vm/swappiness",
                                              "/proc/sys/kernel/printk_ratelimit",
                                              "/proc/sys/kernel/hostname")}


def _mounts() -> list[str]:
    return sorted(Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.fixture
def host_listeners(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A TCP port on the host's loopback, a Unix socket and an abstract one, and a process."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    unix = socket.socket(socket.AF_UNIX)
    path = tmp_path / "host.sock"
    unix.bind(str(path))
    unix.listen()
    os.chmod(path, 0o777)
    abstract = socket.socket(socket.AF_UNIX)
    name = f"agentkit-escape-{os.getpid()}"
    abstract.bind("\0" + name)
    abstract.listen()
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        yield {"port": tcp.getsockname()[1], "socket": str(path), "abstract": name,
               "pid": sleeper.pid}
    finally:
        sleeper.kill()
        sleeper.wait()
        for s in (tcp, unix, abstract):
            s.close()


def _verify(capsys: pytest.CaptureFixture[str], archive: Path, *args: str
            ) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args, str(archive)])
    return code, json.loads(capsys.readouterr().out)


def test_box_refuses_every_power_over_the_host(tmp_path: Path, host_listeners: dict[str, Any],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    canary = tmp_path / "canary"
    canary.write_text("precious")
    args = {**host_listeners, "canary": str(canary), "work": "/nonexistent", "guard": _host()}
    before = (_sysctls(), _mounts(), time.time())
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app",
                                        "  AfterInstall:\n    - location: probe.py\n"), 0o644),
        ("probe.py", "file", PROBE, 0o755), ("args.json", "file", json.dumps(args), 0o644)])
    code, out = _verify(capsys, arc)
    lines = [o["line"] for e in out["events"] for s in e["scripts"] for o in s["output"]]
    probe = json.loads(next(line for line in lines if line.startswith("PROBE "))[6:])
    assert sorted(probe) == sorted(PROBES + tuple(OWN))
    assert {k: v for k, v in probe.items() if not v.startswith("refused: ")} == OWN
    assert {k: probe[k] for k in REASONS} == {k: f"refused: {v}" for k, v in REASONS.items()}
    assert code == 0, out["error"]
    assert (_sysctls(), _mounts()) == before[:2]
    assert abs(time.time() - before[2]) < 600
    assert canary.read_text() == "precious"
    assert os.kill(host_listeners["pid"], 0) is None  # still alive


def test_box_survives_kill_all_and_rm_rf_slash(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    canary = tmp_path / "canary"
    canary.write_text("precious")
    sleeper = subprocess.Popen(["sleep", "600"])
    guard = _guard()  # kill -9 -1 and rm -rf / only where they cannot reach this machine
    try:
        arc = tar(tmp_path / "b.tgz", [
            ("appspec.yml", "file", appspec(tmp_path / "app", (
                "  AfterInstall:\n    - location: killall.sh\n"
                "  ApplicationStart:\n    - location: wipe.sh\n      timeout: 60\n"
                "  ValidateService:\n    - location: after.sh\n")), 0o644),
            ("killall.sh", "file", f"#!/bin/sh\n{guard}sleep 100 &\nkill -9 -1\n"
                                   "echo still here\n", 0o755),
            ("wipe.sh", "file", f"#!/bin/sh\n{guard}rm -rf {canary}\nrm -rf "
                                "--no-preserve-root / 2>/dev/null\necho wiped\n", 0o755),
            ("after.sh", "file", "#!/bin/sh\necho unreachable\n", 0o755)])
        code, out = _verify(capsys, arc)
        assert sleeper.poll() is None
        assert canary.read_text() == "precious"
        events = {e["name"]: e for e in out["events"]}
        output = {name: [o["line"] for s in e["scripts"] for o in s["output"]]
                  for name, e in events.items()}
        assert output["AfterInstall"] == ["still here"]  # (kill spares its caller and pid 1)
        assert output["ApplicationStart"] == ["wiped"]
        # rm -rf / took the deployment archive too, as it would on an instance
        assert out["error"]["error_code"] == "SCRIPT_MISSING"
        assert out["failed_event"] == "ValidateService"
        assert code == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_box_scripts_log_made_a_link_never_writes_the_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a hook turns the agent's scripts.log into a link to a file of this machine: verify's
    # own writes and reads of it never follow the link out of its root
    canary = tmp_path / "canary"
    canary.write_text("precious\n")
    swap = (f"log=$(dirname \"$0\")/../logs/scripts.log\nrm -f \"$log\"\n"
            f"ln -s {canary} \"$log\"\necho swapped\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", (
            "  AfterInstall:\n    - location: swap.sh\n"
            "  ApplicationStart:\n    - location: after.sh\n")), 0o644),
        ("swap.sh", "file", "#!/bin/sh\n" + swap, 0o755),
        ("after.sh", "file", "#!/bin/sh\necho after\n", 0o755)])
    code, out = _verify(capsys, arc)
    assert code == 0, out["error"]
    assert canary.read_text() == "precious\n"
    assert "precious" not in json.dumps(out)
    assert ("scripts.log could not be written (a symlink): a hook "
            "removed or replaced it; verify does not follow links out of its root") in out["notes"]


# --- the caller's terminal, keys and the relay (issue 27) -------------------------------------
PROBE_HEAD = r'''#!/usr/bin/env python3
import ctypes, errno, fcntl, json, os, platform, signal, sys, termios, time
ARGS = json.loads(open(os.path.dirname(__file__) + "/args.json").read())
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
found = {}

def attempt(name, fn):
    try:
        result = fn()
        found[name] = "ALLOWED" if result is None else f"ALLOWED: {result}"
    except OSError as exc:
        found[name] = f"refused: {errno.errorcode.get(exc.errno, exc.errno)}"

def ok(result):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result
'''

TERMINAL_PROBE = PROBE_HEAD + r'''
for sig in (signal.SIGTTIN, signal.SIGTTOU):  # (a background group's read: EIO, not a stop)
    signal.signal(sig, signal.SIG_IGN)

def inject():
    fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    for ch in "echo agentkit-" + "injected\n":
        fcntl.ioctl(fd, termios.TIOCSTI, ch.encode())

def read_keys():
    fd = os.open("/dev/tty", os.O_RDONLY | os.O_NONBLOCK)
    time.sleep(1)
    return os.read(fd, 100).decode()

attempt("open-dev-tty", lambda: os.close(os.open("/dev/tty", os.O_WRONLY)))
attempt("tiocsti", inject)
attempt("read-keystrokes", read_keys)
found["tty-fds"] = sorted(n for n in os.listdir("/proc/self/fd") if os.isatty(int(n)))
found["stdin"] = os.readlink("/proc/self/fd/0")
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def _probe_bundle(tmp_path: Path, probe: str, args: dict[str, Any], event: str = "AfterInstall",
                  after: str = "") -> Path:
    hooks = f"  {event}:\n    - location: probe.py\n      timeout: 60\n"
    members = [("probe.py", "file", probe, 0o755), ("args.json", "file", json.dumps(args), 0o644)]
    if after:
        hooks += "  ValidateService:\n    - location: after.sh\n"
        members.append(("after.sh", "file", after, 0o755))
    return tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(tmp_path / "app", hooks),
                                     0o644), *members])


def _probe(out: dict[str, Any], event: str = "AfterInstall") -> dict[str, Any]:
    lines = [o["line"] for e in out["events"] if e["name"] == event
             for s in e["scripts"] for o in s["output"]]
    found = next((line for line in lines if line.startswith("PROBE ")), None)
    assert found is not None, lines
    return dict(json.loads(found[6:]))


def _in_a_terminal(argv: list[str], typed: bytes, timeout: float = 120) -> tuple[int, bytes]:
    """Run argv with a new pseudo-terminal as its controlling terminal (as a developer runs
    verify), typing `typed` into it while it runs; returns its exit status and everything
    the terminal showed."""
    import pty
    import select

    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs
        os.execv(argv[0], argv)
    shown = b""
    end = time.monotonic() + timeout
    try:
        typed_at = time.monotonic() + 1.5
        while time.monotonic() < end:
            if typed and time.monotonic() > typed_at:
                os.write(master, typed)
                typed = b""
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child has gone, and with it the terminal
                    break
                if not chunk:
                    break
                shown += chunk
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return os.waitstatus_to_exitcode(status), shown


def test_box_hooks_have_no_terminal_of_the_callers(tmp_path: Path) -> None:
    # verify runs in a terminal (a pty: its controlling terminal); a hook opens /dev/tty to
    # push keystrokes into it with TIOCSTI (dev.tty.legacy_tiocsti=1 allows that) and to read
    # what the developer types: it has no controlling terminal, and no descriptor of one
    arc = _probe_bundle(tmp_path, TERMINAL_PROBE, {})
    code, shown = _in_a_terminal([sys.executable, "-m", "agentkit", "verify", "--format",
                                  "json", str(arc)], b"typed-by-the-developer\n")
    text = shown.decode("utf-8", "replace")
    assert "agentkit-injected" not in text
    out = json.loads(text[text.index("{"):text.rindex("}") + 1])
    probe = _probe(out)
    assert probe == {"open-dev-tty": "refused: ENXIO", "tiocsti": "refused: ENXIO",
                     "read-keystrokes": "refused: ENXIO", "tty-fds": [],
                     "stdin": "/dev/null"}
    assert code == 0, out["error"]


KEYS_PROBE = PROBE_HEAD + r'''
KEYCTL = {"x86_64": 250, "aarch64": 219}[platform.machine()]
ADD_KEY = {"x86_64": 248, "aarch64": 217}[platform.machine()]
SESSION, USER, USER_SESSION = -3, -4, -5

def search(ring):
    return ok(libc.syscall(KEYCTL, 10, ring, b"user", ARGS["description"].encode(), 0))

def listed():
    buf = ctypes.create_string_buffer(4096)
    return ok(libc.syscall(KEYCTL, 11, SESSION, buf, 4096)) // 4

def by_number(op, ring):  # a key found by its number, as a hook that tries every number
    buf = ctypes.create_string_buffer(4096)
    return ok(libc.syscall(KEYCTL, op, ring, buf if op != 8 else SESSION, 4096))

attempt("describe-callers-user-keyring", lambda: by_number(6, ARGS["user_ring"]))
attempt("link-callers-user-keyring", lambda: by_number(8, ARGS["user_ring"]))
attempt("read-callers-key", lambda: by_number(11, ARGS["secret"]))
attempt("session-search", lambda: search(SESSION))
attempt("user-search", lambda: search(USER))
attempt("user-session-search", lambda: search(USER_SESSION))
try:
    found["session-keys"] = listed()
except OSError:  # (no keyrings at all)
    found["session-keys"] = 0
attempt("leave-a-key", lambda: ok(libc.syscall(ADD_KEY, b"user", ARGS["left"].encode(),
                                               b"planted", 7, SESSION)) and None)
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def _keyctl() -> tuple[Any, int, int]:
    import ctypes
    import platform

    if platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("keyctl numbers known here for x86_64 and aarch64 only")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    keyctl, add_key = {"x86_64": (250, 248), "aarch64": (219, 217)}[platform.machine()]
    return libc, keyctl, add_key


def test_box_hooks_reach_no_keyring_of_the_callers(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # the caller holds a secret in its session keyring and in its user keyring; a hook
    # searches both and plants a key in the session keyring for later
    libc, keyctl, add_key = _keyctl()
    description = f"agentkit-escape-{os.getpid()}"
    left = f"agentkit-left-{os.getpid()}"
    assert libc.syscall(keyctl, 1, f"agentkit-test-{os.getpid()}".encode()) > 0  # own session
    secret = libc.syscall(add_key, b"user", description.encode(), b"hunter2", 7, -3)
    in_user = libc.syscall(add_key, b"user", description.encode(), b"hunter2", 7, -4)
    user_ring = libc.syscall(keyctl, 0, -4, 0)  # KEYCTL_GET_KEYRING_ID
    assert secret > 0 and in_user > 0 and user_ring > 0
    try:
        # (the hook is told the numbers: one that tries every number finds them in time)
        arc = _probe_bundle(tmp_path, KEYS_PROBE, {"description": description, "left": left,
                                                   "user_ring": user_ring, "secret": secret})
        code, out = _verify(capsys, arc)
        probe = _probe(out)
        if os.geteuid() == 0:  # the box's ids are nobody's: its keyrings are its own
            assert probe == {"session-search": "refused: ENOKEY",
                             "user-search": "refused: ENOKEY",
                             "user-session-search": "refused: ENOKEY", "session-keys": 0,
                             "describe-callers-user-keyring": "refused: EACCES",
                             "link-callers-user-keyring": "refused: EACCES",
                             "read-callers-key": "refused: EACCES",
                             "leave-a-key": "ALLOWED"}  # (in the box's own keyring)
        else:  # root of the box is the caller to the kernel: no keyrings at all
            assert probe == {"session-search": "refused: ENOSYS",
                             "user-search": "refused: ENOSYS",
                             "user-session-search": "refused: ENOSYS", "session-keys": 0,
                             "describe-callers-user-keyring": "refused: ENOSYS",
                             "link-callers-user-keyring": "refused: ENOSYS",
                             "read-callers-key": "refused: ENOSYS",
                             "leave-a-key": "refused: ENOSYS"}
            assert ("hooks may not use the kernel's keyrings here (keyctl, add_key and "
                    "request_key fail with ENOSYS, as on a kernel without them): run by a "
                    "plain user, root of the box is that user to the kernel, and could reach "
                    "its user keyring by number (run verify as root to give hooks keyrings "
                    "of their own)") in out["notes"]
        assert code == 0, out["error"]
        # nothing the hook planted is in the caller's keyring afterwards
        assert libc.syscall(keyctl, 10, -3, b"user", left.encode(), 0) == -1
        assert libc.syscall(keyctl, 10, -3, b"user", description.encode(), 0) == secret
    finally:
        libc.syscall(keyctl, 21, in_user)  # KEYCTL_INVALIDATE: root's user keyring lives on


RELAY_PROBE = PROBE_HEAD + r'''
def read(path):
    with open(path, "rb") as f:
        return len(f.read(64)) and None

attempt("ptrace-pid1", lambda: ok(libc.ptrace(16, 1, None, None)) and None)  # PTRACE_ATTACH
attempt("seize-pid1", lambda: ok(libc.ptrace(0x4206, 1, None, None)) and None)
attempt("pid1-mem", lambda: read("/proc/1/mem"))
attempt("pid1-environ", lambda: read("/proc/1/environ"))
attempt("pid1-fds", lambda: os.listdir("/proc/1/fd") and None)
attempt("stop-pid1", lambda: os.kill(1, signal.SIGSTOP))
time.sleep(0.5)
found["pid1-state"] = open("/proc/1/stat").read().split(") ")[1][0]
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def test_box_relay_cannot_be_traced_stopped_or_read(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # pid 1 carries every hook's result to verify: a hook that could trace it could forge
    # them, or leave it stopped and verify waiting
    arc = _probe_bundle(tmp_path, RELAY_PROBE, {}, after="#!/bin/sh\necho after\n")
    started = time.monotonic()
    code, out = _verify(capsys, arc)
    probe = _probe(out)
    assert probe == {"ptrace-pid1": "refused: EPERM", "seize-pid1": "refused: EPERM",
                     "pid1-mem": "refused: EACCES", "pid1-environ": "refused: EACCES",
                     "pid1-fds": "refused: EACCES", "stop-pid1": "ALLOWED",  # (and ignored)
                     "pid1-state": "S"}
    assert code == 0, out["error"]
    assert [o["line"] for e in out["events"] if e["name"] == "ValidateService"
            for s in e["scripts"] for o in s["output"]] == ["after"]
    assert time.monotonic() - started < 60


def test_box_that_dies_makes_the_result_undetermined_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the box is killed from outside while a hook runs (the OOM killer, an operator): verify
    # says so in one paragraph, exit 4, never an internal error
    import threading

    import psutil

    def kill_the_box() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for child in psutil.Process().children():
                with contextlib.suppress(psutil.Error):
                    if "agentkit.box.stage" in " ".join(child.cmdline()) and any(
                            "sleep" in " ".join(c.cmdline())
                            for c in child.children(recursive=True)):
                        child.kill()
                        return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_box)
    killer.start()
    arc = _probe_bundle(tmp_path, "#!/bin/sh\nexec sleep 30\n", {}, after="#!/bin/sh\necho x\n")
    try:
        code, out = _verify(capsys, arc)
    finally:
        killer.join()
    assert code == 4
    assert out["result"] == "undetermined"
    assert out["undetermined"] == ("hooks were not run: the hook box ended while AfterInstall "
                                   "ran, so what its hooks did is not known (it was killed by "
                                   "signal 9)")
    assert [e["status"] for e in out["events"] if e["name"] in ("AfterInstall",
                                                                 "ValidateService")] == \
        ["not run here", "not run here"]


PRIVATE_PROBE = PROBE_HEAD + r'''
def listing(path):
    return sorted(os.listdir(path))

for name, path in ARGS["dirs"].items():
    attempt("list " + name, lambda: listing(path))
for name, path in ARGS["files"].items():
    attempt("read " + name, lambda: open(path).read())
for name, path in ARGS["attrs"].items():
    st = os.stat(path)
    found["attrs " + name] = [oct(st.st_mode & 0o7777), st.st_uid]
attempt("homes", lambda: [n for n in listing("/home") if listing("/home/" + n)])
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_box_shows_no_private_file_of_this_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # what a CI machine keeps for itself: the caller's home (.pgpass, .vault-token, gh's
    # token), root's, another user's home (as root), a 0600 .env where verify runs, the rest
    # of TMPDIR; each directory shows empty, with its mode and owner
    import pwd
    import shutil

    pid = os.getpid()
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    cwd = tmp_path / "checkout"
    planted = [_write(cwd / ".env", "DB_PASSWORD=hunter2\n"),
               _write(tmp_path / "other-job" / "token", "ghp_secret\n")]
    other = Path(f"/home/agentkit-escape-{pid}")
    try:
        if os.access(home, os.W_OK):
            planted += [_write(home / f".agentkit-escape-{pid}" / name, "secret\n") for name in
                        (".pgpass", ".vault-token", ".config/gh/hosts.yml", ".npmrc")]
        if os.geteuid() == 0:
            _write(other / ".aws" / "credentials", "aws_secret_access_key=x\n")
            os.chown(other, 1234, 1234)
            other.chmod(0o750)
            planted.append(other / ".aws" / "credentials")
        monkeypatch.chdir(cwd)
        args = {"dirs": {"home": str(home), "root": "/root", "cwd": str(cwd),
                         "tmpdir": str(tmp_path)},
                "files": {p.name: str(p) for p in planted},
                "attrs": {"home": str(home), **({"other": str(other)} if other.exists()
                                                 else {})}}
        arc = _probe_bundle(tmp_path, PRIVATE_PROBE, args)
        code, out = _verify(capsys, arc)
        probe = _probe(out)
        assert code == 0, out["error"]
    finally:
        shutil.rmtree(home / f".agentkit-escape-{pid}", ignore_errors=True)
        shutil.rmtree(other, ignore_errors=True)
    # (TMPDIR holds only what Install put there; the checkout in it is not there at all)
    assert {k: v for k, v in probe.items() if k.startswith("list ")} == {
        "list home": "ALLOWED: []", "list root": "ALLOWED: []", "list cwd": "refused: ENOENT",
        "list tmpdir": "ALLOWED: ['app']"}
    assert {k: v for k, v in probe.items() if k.startswith("read ")} == {
        f"read {p.name}": "refused: ENOENT" for p in planted}
    assert len(planted) >= 2
    assert probe["homes"] == "ALLOWED: []"  # every /home/* shows empty
    assert probe["attrs home"][0] == oct(home.stat().st_mode & 0o7777)
    if os.geteuid() == 0:
        assert probe["attrs other"] == ["0o750", 1234]


def test_box_shows_what_verify_show_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    # --show PATH: a directory hidden by default (here one in TMPDIR) shown on purpose, and
    # nothing beside it; a host socket in it is still out of reach
    from agentkit.cli import _build_parser
    from agentkit.commands import verify

    shared = tmp_path / "shared"
    _write(shared / "visible.txt", "shown on purpose\n", 0o644)
    _write(tmp_path / ".env", "DB_PASSWORD=hunter2\n")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(shared / "host.sock"))
    listener.listen()
    probe_args = {"dirs": {"shared": str(shared)},
                  "files": {"visible": str(shared / "visible.txt"), "env": str(tmp_path / ".env")},
                  "attrs": {}}
    probe = PRIVATE_PROBE.replace('print("PROBE', 'attempt("socket", lambda: __import__("socket")'
                                  '.socket(1).connect(ARGS["socket"]))\nprint("PROBE')
    arc = _probe_bundle(tmp_path, probe, {**probe_args, "socket": str(shared / "host.sock")})
    args = _build_parser().parse_args(["verify", "--format", "json", str(arc)])
    args.show = [str(shared)]
    try:
        code = verify.run(args)
    finally:
        listener.close()
    out = json.loads(capsys.readouterr().out)
    found = _probe(out)
    assert code == 0, out["error"]
    assert found["list shared"] == "ALLOWED: ['host.sock', 'visible.txt']"
    assert found["read visible"] == "ALLOWED: shown on purpose\n"
    assert found["read env"] == "refused: ENOENT"
    assert found["socket"] == "refused: ECONNREFUSED"


@pytest.mark.parametrize("reader", [False, True], ids=["fifo", "fifo-held-open"])
def test_box_scripts_log_made_a_fifo_is_a_note_never_a_hang(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], reader: bool) -> None:
    # a hook puts a FIFO where scripts.log was (with a daemon holding it open, so that a
    # non-blocking open for writing would succeed): verify opens its copy of it (a FIFO with no
    # reader: the daemon holds the box's) without waiting, sees it is no regular file, and
    # goes on without it; the box's pid 1 never opens the hooks' file
    hold = ('sh -c \'exec 3<>"$1"; exec sleep 300\' _ "$log" >/dev/null 2>&1 &\n'
            if reader else "")
    swap = (f'log=$(dirname "$0")/../logs/scripts.log\nrm -f "$log"\nmkfifo "$log"\n{hold}'
            "echo swapped\n")
    arc = _probe_bundle(tmp_path, "#!/bin/sh\n" + swap, {}, after="#!/bin/sh\necho after\n")
    started = time.monotonic()
    code, out = _verify(capsys, arc)
    assert time.monotonic() - started < 60
    assert code == 0, out["error"]
    assert _lines(out, "ValidateService") == ["after"]
    kind = "a FIFO or socket, not a regular file"
    assert (f"scripts.log could not be written ({kind}): a hook removed or replaced it; "
            "verify does not follow links out of its root") in out["notes"]
    box_note = re.compile(r"/opt/codedeploy-agent/deployment-root/dg-verify/d-\w+/logs/"
                          rf"scripts\.log could not be written \({re.escape(kind)}\): a hook "
                          r"replaced it, so the output of this event's scripts is not in it")
    assert [n for n in out["notes"] if box_note.fullmatch(n)]
    assert out["scripts_log"] == "[scripts.log not read: a FIFO, not a regular file]\n"


def _lines(out: dict[str, Any], event: str) -> list[str]:
    return [o["line"] for e in out["events"] if e["name"] == event
            for s in e["scripts"] for o in s["output"]]


def _verify_with(capsys: pytest.CaptureFixture[str], arc: Path, **options: Any
                 ) -> tuple[int, dict[str, Any]]:
    """verify with options the parser may not offer yet (--show, --max-memory)."""
    from agentkit.cli import _build_parser
    from agentkit.commands import verify

    args = _build_parser().parse_args(["verify", "--format", "json", str(arc)])
    for name, value in options.items():
        setattr(args, name, value)
    code = verify.run(args)
    return code, json.loads(capsys.readouterr().out)


MEMORY_PROBE = PROBE_HEAD + r'''
def hog():
    block = bytearray(1 << 30)  # 1 GiB, every page touched
    for i in range(0, len(block), 4096):
        block[i] = 1

try:
    hog()
    found["allocate-1G"] = "ALLOWED"
except MemoryError:
    found["allocate-1G"] = "refused: MemoryError"
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def test_box_memory_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --max-memory 256M: a hook that allocates and touches 1 GiB is refused the memory
    arc = _probe_bundle(tmp_path, MEMORY_PROBE, {})
    code, out = _verify_with(capsys, arc, max_memory=256 << 20)
    assert _probe(out) == {"allocate-1G": "refused: MemoryError"}
    assert code == 0, out["error"]
    said = [n for n in out["notes"] if n.startswith("each process of the box may use at most "
                                                    "256M of memory (RLIMIT_DATA, --max-memory)"
                                                    "; their total is not bounded here: ")]
    assert len(said) == 1, out["notes"]
    with open("/proc/self/cgroup") as f:
        v1_memory = any(line.split(":")[1].split(",").count("memory") for line in f)
    if v1_memory:  # this machine's memory controller is on a cgroup v1 hierarchy
        assert re.search(r": this machine has its memory controller on cgroup v1(, not v2)?$",
                         said[0]), said


def test_box_huge_sparse_files_are_not_hashed_past_the_budget(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # two 7 GiB sparse files cost the hook nothing (no disk, within the box's limits); verify
    # hashes at most its budget of such files, lists the rest without a digest, and says so
    dest = tmp_path / "app"
    make = "".join(f"truncate -s 7G {dest}/big{i}\n" for i in range(2))
    arc = _probe_bundle(tmp_path, "#!/bin/sh\n" + make, {})
    started = time.monotonic()
    code, out = _verify(capsys, arc)
    assert code == 0, out["error"]
    assert time.monotonic() - started < 30
    assert ("2 file(s) the hooks wrote are listed without a digest: verify hashes at most "
            "1024 MiB of files over 64 MiB, sparse or linked per event") in out["notes"]
    big = {n["path"]: n for n in out["tree"] if "/big" in n["path"]}
    assert sorted(big) == [f"{dest}/big0", f"{dest}/big1"]
    assert {n["sha256"] for n in big.values()} == {None}


def test_box_a_destination_never_unhides_a_private_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the bundle chooses its `files` destinations: `destination: ~/.ssh` (or /root/.ssh)
    # must not show a stranger's hooks what is there; Install's own files show, nothing else
    import pwd
    import shutil

    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    if not os.access(home, os.W_OK):
        pytest.skip(f"this user may not write its home {home}, to plant a secret there")
    private = home / f".agentkit-dest-{os.getpid()}"
    _write(private / "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    try:
        look = f"#!/bin/sh\nls -A {private}\ncat {private}/id_rsa\ntrue\n"
        arc = tar(tmp_path / "b.tgz", [
            ("appspec.yml", "file", appspec(private, "  BeforeInstall:\n    - location: "
                                            "s/look.sh\n  AfterInstall:\n    - location: "
                                            "s/look.sh\n"), 0o644),
            ("s/look.sh", "file", look, 0o755), ("installed.txt", "file", "mine\n", 0o644)])
        code, out = _verify(capsys, arc)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert code == 0, out["error"]
    said = {e["name"]: [o["line"] for o in e["scripts"][0]["output"]] for e in out["events"]
            if e["scripts"]}
    assert said["BeforeInstall"] == [
        f"ls: cannot access '{private}': No such file or directory",
        f"cat: {private}/id_rsa: No such file or directory"]
    assert said["AfterInstall"] == ["appspec.yml", "installed.txt", "s",
                                    f"cat: {private}/id_rsa: No such file or directory"]
    assert "OPENSSH" not in json.dumps(out)


DISK_PROBE = PROBE_HEAD + r'''
CHUNK = 4 << 20
here = os.path.dirname(os.path.abspath(__file__))  # the deployment archive, in the agent's root
places = {"deployment-root": here + "/fill", "deployment-logs": here + "/../logs/fill",
          "tmp": "/tmp/fill", "var-tmp": "/var/tmp/fill", "run": "/run/fill",
          "dev-shm": "/dev/shm/fill", "app": ARGS["app"] + "/fill"}
written = {}
for name, path in places.items():
    written[name] = 0
    try:
        with open(path, "wb") as f:
            for _ in range(ARGS["chunks"]):
                f.write(b"x" * CHUNK)
                f.flush()
                written[name] += CHUNK
        found[name] = "ALLOWED"
    except OSError as exc:
        found[name] = f"refused: {errno.errorcode.get(exc.errno, exc.errno)}"
found["total-MiB"] = sum(written.values()) >> 20
print("PROBE " + json.dumps(found, sort_keys=True))
'''


def test_box_max_disk_bounds_all_the_hooks_write_the_deployment_root_included(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --max-disk 48M: a hook writes 24 MiB in each of seven places (the agent's deployment
    # root first); their total stays within the bound, the rest fails as on a full disk
    arc = _probe_bundle(tmp_path, DISK_PROBE, {"chunks": 6, "app": str(tmp_path / "app")})
    code, out = _verify(capsys, arc, "--max-disk", "48M")
    found = _probe(out)
    assert code == 0, out["error"]
    assert found["deployment-root"] == "ALLOWED"
    assert found["total-MiB"] <= 48
    refused = [k for k, v in found.items() if v == "refused: ENOSPC"]
    assert refused and found["app"] == "refused: ENOSPC", found
    assert ("the hooks wrote as much as the box allows (--max-disk 48 MiB in all, the "
            "deployment root, /tmp, /run and /dev/shm included): writes past it failed with "
            "ENOSPC (No space left on device), as on a full disk") in out["notes"]


def test_box_rm_rf_of_a_destination_in_tmpdir_works_as_on_an_instance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a `files` destination in TMPDIR (hidden, shown through) that holds this machine's files
    # is a plain directory in the box: BeforeInstall's `rm -rf` of it works (no EBUSY), and
    # Install then makes it again
    dest = tmp_path / "app"
    _write(dest / "old.txt", "old\n", 0o644)
    clean = f"#!/bin/sh\nrm -rf {dest} && echo removed\nls {dest} 2>&1\ntrue\n"
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(dest, "  BeforeInstall:\n    - location: clean.sh\n"
                                        "  AfterInstall:\n    - location: look.sh\n"), 0o644),
        ("clean.sh", "file", clean, 0o755),
        ("look.sh", "file", f"#!/bin/sh\nls {dest}\n", 0o755)])
    code, out = _verify(capsys, arc)
    assert code == 0, out["error"]
    assert _lines(out, "BeforeInstall") == [
        "removed", f"ls: cannot access '{dest}': No such file or directory"]
    assert _lines(out, "AfterInstall") == ["appspec.yml", "clean.sh", "look.sh"]
    assert (dest / "old.txt").read_text() == "old\n"  # this machine's file is untouched


SWAP_PROBE = r'''#!/usr/bin/env python3
import os, socket
here = os.path.dirname(os.path.abspath(__file__))  # the deployment archive
os.unlink(here + "/installed.txt")
os.mkfifo(here + "/installed.txt")
os.unlink(here + "/appspec.yml")
os.symlink("/etc/shadow", here + "/appspec.yml")
instructions = os.path.dirname(os.path.dirname(os.path.dirname(here))) + \
    "/deployment-instructions"
for name in os.listdir(instructions):  # the agent's markers: sockets
    os.unlink(f"{instructions}/{name}")
    socket.socket(socket.AF_UNIX).bind(f"{instructions}/{name}")
print("swapped")
'''


def test_box_special_files_in_the_deployment_root_are_never_followed_or_waited_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a hook makes the files verify reads in the agent's deployment root a FIFO (a bundle
    # file Install copies), a link to /etc/shadow (the appspec the next deployment's
    # ApplicationStop reads) and sockets (the agent's markers); verify copies them back to
    # its deployment root as they are in the box, and the next verify in the same state
    # directory reads none of them, waits on none, and says what is not known (exit 4)
    state = tmp_path / "state"
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", "  BeforeInstall:\n    - location: "
                                        "swap.py\n"), 0o644),
        ("swap.py", "file", SWAP_PROBE, 0o755), ("installed.txt", "file", "x\n", 0o644)])
    started = time.monotonic()
    code, out = _verify(capsys, arc, "--state-dir", str(state))
    assert code == 0, out["error"]
    assert _lines(out, "BeforeInstall") == ["swapped"]
    archive = next(state.glob("deployment-root/dg-verify/d-*/deployment-archive"))
    assert archive.joinpath("appspec.yml").is_symlink()
    code, out = _verify(capsys, arc, "--state-dir", str(state))
    assert time.monotonic() - started < 60
    assert code == 4, out["error"]
    shown = f"/opt/codedeploy-agent/deployment-root/dg-verify/{archive.parent.name}/" \
            "deployment-archive/appspec.yml"
    assert [(e["name"], e["status"], e["note"]) for e in out["events"]][:3] == [
        (name, "not run here", f"{shown} is a link out of its archive: what the agent reads "
         "is not known") for name in ("BeforeBlockTraffic", "AfterBlockTraffic",
                                      "ApplicationStop")]
    assert "root:" not in json.dumps(out)


def test_box_shows_no_ci_secret_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    # where CI systems keep their secrets (Jenkins' home, Docker's and Kubernetes' mounted
    # secrets): each shows empty in the box, whatever this machine holds there
    import shutil

    places = [Path("/var/lib/jenkins"), Path("/run/secrets"), Path("/var/jenkins_home")]
    fresh = [p for p in places if not p.exists() and os.access(p.parent, os.W_OK)]
    if not fresh:
        pytest.skip("this user may not plant files where CI systems keep secrets (/var/lib, "
                    "/run), or they exist here already")
    try:
        planted = [_write(p / "secrets" / "master.key", "ci-secret\n") for p in fresh]
        args = {"dirs": {str(p): str(p) for p in fresh},
                "files": {str(f): str(f) for f in planted}, "attrs": {}}
        arc = _probe_bundle(tmp_path, PRIVATE_PROBE, args)
        code, out = _verify(capsys, arc)
    finally:
        for p in fresh:
            shutil.rmtree(p, ignore_errors=True)
    assert code == 0, out["error"]
    probe = _probe(out)
    for place in fresh:
        # /run is the box's own (empty); the others are shown as empty directories
        assert probe[f"list {place}"] == ("refused: ENOENT" if str(place).startswith("/run")
                                          else "ALLOWED: []")
    for key in planted:
        assert probe[f"read {key}"] == "refused: ENOENT"
    assert "ci-secret" not in json.dumps(out)


def test_box_mountinfo_shows_no_path_of_verifys_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the box's mounts name its layers and the agent's deployment root by descriptor
    # (/proc/self/fd/N), never by where verify keeps them on this machine (its TMPDIR)
    import tempfile

    arc = _probe_bundle(tmp_path, "#!/bin/sh\ncat /proc/self/mountinfo\n", {})
    code, out = _verify(capsys, arc)
    assert code == 0, out["error"]
    lines = _lines(out, "AfterInstall")
    assert any(" /opt/codedeploy-agent/deployment-root " in line for line in lines), lines
    tmpdir = os.path.realpath(tempfile.gettempdir()) + "/"
    assert [line for line in lines if tmpdir in line] == []


def test_box_many_sparse_files_cost_verify_no_disk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # forty 60 MiB sparse files (under the size that comes back whole) cost the hook no
    # disk; verify keeps their digests (within its hashing budget), never their 2.4 GB
    state = tmp_path / "state"
    dest = tmp_path / "app"
    make = f"for i in $(seq 1 40); do truncate -s 60M {dest}/s$i; done\n"
    arc = _probe_bundle(tmp_path, "#!/bin/sh\n" + make, {})
    started = time.monotonic()
    code, out = _verify(capsys, arc, "--state-dir", str(state))
    assert code == 0, out["error"]
    assert time.monotonic() - started < 60
    used = sum(os.lstat(os.path.join(d, n)).st_blocks * 512
               for d, dirs, files in os.walk(state) for n in dirs + files)
    assert used < 64 << 20
    # 1024 MiB of hashing: 17 of them have a digest, 23 do not
    assert ("23 file(s) the hooks wrote are listed without a digest: verify hashes at most "
            "1024 MiB of files over 64 MiB, sparse or linked per event") in out["notes"]
    sparse = [n for n in out["tree"] if n["path"].startswith(f"{dest}/s")]
    assert len(sparse) == 40
    import hashlib

    zeros = hashlib.sha256(bytes(60 << 20)).hexdigest()
    assert sorted(n["sha256"] or "" for n in sparse) == [""] * 23 + [zeros] * 17


def test_box_many_names_of_one_file_cost_verify_its_bytes_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # forty hard links to one 60 MiB file cost the hook 60 MiB of the box's disk; verify
    # keeps that file's bytes once and the other names as its digest, never 2.4 GB
    import hashlib

    state = tmp_path / "state"
    dest = tmp_path / "app"
    make = (f"head -c {60 << 20} /dev/zero > {dest}/f\n"
            f"for i in $(seq 1 40); do ln {dest}/f {dest}/l$i; done\n")
    arc = _probe_bundle(tmp_path, "#!/bin/sh\n" + make, {})
    code, out = _verify(capsys, arc, "--state-dir", str(state))
    assert code == 0, out["error"]
    used = sum(os.lstat(os.path.join(d, n)).st_blocks * 512
               for d, dirs, files in os.walk(state) for n in dirs + files)
    assert used < 128 << 20
    names = [n for n in out["tree"] if n["path"].startswith((f"{dest}/l", f"{dest}/f"))]
    zeros = hashlib.sha256(bytes(60 << 20)).hexdigest()
    # one name whole, 17 within the 1024 MiB of hashing, 23 past it
    assert sorted(n["sha256"] or "" for n in names) == [""] * 23 + [zeros] * 18
