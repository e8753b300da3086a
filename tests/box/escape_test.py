"""The box is a boundary: a hook that tries every power over the host is refused each one, as
root and as an unprivileged user (CI runs this file both ways), and the host is unchanged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
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
           "host-disk": "ENOENT", "host-tcp": "ECONNREFUSED", "host-unix": "ECONNREFUSED",
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
