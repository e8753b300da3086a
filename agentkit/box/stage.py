"""The process verify starts for a box: it enters the box's user namespace and makes pid 1.

`python -m agentkit.box.stage FD` with FD a channel to verify. Unprivileged: unshare a user
namespace and have verify write its maps (newuidmap needs the pid from outside). Real root:
stay the host's root long enough to make idmapped copies of the host's trees (only the host's
root may), with a user namespace held open by a child, then join it. Either way, become root
of that namespace, unshare the rest (mount, pid, ipc, uts, cgroup and net) and fork pid 1.
Every process of the box dies with this one (PR_SET_PDEATHSIG), and this one with verify.
First it leaves the caller's session and keyring (_detach).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from dataclasses import replace

# (everything pid 1 needs is imported before we lose /)
from agentkit.box import ids, init, mimic, wire
from agentkit.box import syscalls as sc
from agentkit.box.channel import Channel
from agentkit.box.errors import Unavailable
from agentkit.box.spec import Spec

STAGING_FD = 99  # (as real root) the stage's directory, in the box's mount namespace
NAMESPACES = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS | \
    sc.CLONE_NEWCGROUP


def _hold_userns(spec: Spec) -> tuple[int, int]:
    """A child that unshares a user namespace and waits; returns (its pid, the ns fd)."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the holder
        os.close(ready_r)
        os.close(hold_w)
        try:
            sc.unshare(sc.CLONE_NEWUSER)
            os.write(ready_w, b"y")
        except OSError:
            os.write(ready_w, b"n")
        os.read(hold_r, 1)
        os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    ok = os.read(ready_r, 1) == b"y"
    os.close(ready_r)
    if not ok:
        os.close(hold_w)
        os.waitpid(pid, 0)
        raise Unavailable("user namespaces are disabled here (unshare(CLONE_NEWUSER) failed)")
    ids.write(spec.idmap, pid)
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    os.close(hold_w)
    os.waitpid(pid, 0)
    return pid, fd


def _stage_shifted(spec: Spec) -> Spec:
    """As real root: idmapped copies of what the box shows, in a mount namespace of ours."""
    _, userns = _hold_userns(spec)
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.mount("tmpfs", spec.work, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=0755")
    here = f"/proc/self/fd/{STAGING_FD}"
    notes = list(spec.notes)

    def clone(i: int, host: str, box: str) -> tuple[str, str]:
        target = f"{spec.work}/h{i}"
        os.mkdir(target)
        try:
            sc.idmapped_clone(host, userns, target)
        except OSError as exc:  # e.g. NFS has no idmapped mounts: owners show as nobody
            sc.mount(host, target, None, sc.MS_BIND)
            notes.append(f"{box}: owners show as nobody in the box ({exc.strerror})")
        return box, f"{here}/h{i}"

    shown = tuple(clone(i, host, box) for i, (box, host) in enumerate(spec.shown))
    binds = tuple(clone(1000 + i, host, box) for i, (box, host) in enumerate(spec.binds))
    os.mkdir(f"{spec.work}/b")
    own = f"{here}/b"
    # Root of the box is nobody to the host: the path to verify's work directory may pass
    # directories it may not search (a 0700 TMPDIR). So the stage's directory is the working
    # directory, which unshare(CLONE_NEWNS) moves to the new namespace's copy of it
    # (copy_mnt_ns); _enter then keeps it as STAGING_FD, below which names are looked up as
    # usual, mounts included.
    os.chdir(spec.work)
    sc.setns(userns, sc.CLONE_NEWUSER)
    os.close(userns)
    return replace(spec, shown=shown, binds=binds, work=own, notes=tuple(notes))


def _enter(spec: Spec, channel: Channel) -> Spec:
    if spec.idmap.kind == "shifted":
        spec = _stage_shifted(spec)
    else:
        try:
            sc.unshare(sc.CLONE_NEWUSER)
        except OSError as exc:
            raise Unavailable(f"user namespaces are disabled here ({exc.strerror})") from None
        channel.send({"op": "map", "pid": os.getpid()})
        reply, _ = channel.receive()
        if reply.get("op") != "mapped":
            raise Unavailable(str(reply.get("message", "the user namespace got no map")))
    if spec.idmap.kind != "single":
        os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    sc.unshare(NAMESPACES | (0 if spec.network else sc.CLONE_NEWNET))
    if spec.idmap.kind == "shifted":
        here = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        os.dup2(here, STAGING_FD, inheritable=False)
        os.close(here)
        os.chdir("/")
    return spec


def _detach() -> None:
    """Nothing of the caller's session: no controlling terminal (verify starts this process
    with setsid, so /dev/tty is ENXIO and no TIOCSTI reaches the caller's terminal), a keyring
    of its own."""
    if os.getsid(0) != os.getpid():
        os.setsid()  # (started by hand, not by verify) still no terminal of the caller's
    try:
        sc.join_new_session_keyring()
    except OSError as exc:
        # a seccomp profile that refuses keyctl (Docker's) refuses it to the hooks alike
        if exc.errno not in (errno.ENOSYS, errno.EPERM):
            raise Unavailable(f"the box could not leave the caller's keyring ({exc.strerror})"
                              ) from None


def main(argv: list[str]) -> int:
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # verify is already gone
        return 1
    channel = Channel(socket.socket(fileno=int(argv[0])))
    message, _ = channel.receive()
    spec = Spec.from_json(message["spec"])
    # the job handler is imported while this machine's files are still in view
    handler = wire.load_handler(spec.handler)
    try:
        _detach()
        if spec.mimic or spec.mimic_dirs:  # while this machine's owners are still seen
            hidden = frozenset(h for h, _, _, _ in spec.hidden)  # (see mimic._HOST)
            mimic.remember_owners(spec.mimic, skip=hidden)
            mimic.remember_owners(spec.mimic_dirs, files=(), depth=1, skip=hidden)
        spec = _enter(spec, channel)
        # Not traceable by what it starts (pid 1 inherits this): with dumpable 0, ptrace and
        # /proc/PID/mem need CAP_SYS_PTRACE in the user namespace this process was exec'd in,
        # this machine's, which no process of the box has. Only now: newuidmap and verify
        # write the maps through /proc/PID, which dumpable 0 gives to the host's root.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
    except Unavailable as exc:
        channel.send({"op": "unavailable", "message": str(exc)})
        return 1
    except OSError as exc:
        reason = exc.strerror or str(exc)
        channel.send({"op": "unavailable", "message": f"the box's namespaces could not be "
                      f"made here: {exc.filename or ''} {reason}".replace("  ", " ")})
        return 1
    pid = os.fork()
    if pid == 0:
        os._exit(init.main(channel, spec, handler))
    channel.close()
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
