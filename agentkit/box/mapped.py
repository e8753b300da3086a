"""Call a function as root of a user namespace with the box's id map, outside any box.

A plain user with a subordinate id range (ids.py's "range") may own files through it only
from inside such a namespace: there, root holds CAP_CHOWN and CAP_DAC_OVERRIDE over every
mapped id (user_namespaces(7)), so an image's `www-data` files can be made as the box will
show them, and removed again (outside, the user may not delete what its subordinate ids own).
For the other maps the function is simply called: real root owns anything already, and a
user with no range has no other ids to give.

Only the namespace is new (no mount or pid namespace): paths mean what they mean to the caller.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
from collections.abc import Callable
from typing import Any, TypeVar

from agentkit.box import ids
from agentkit.box import syscalls as sc
from agentkit.errors import FatalError

T = TypeVar("T")


class Unmappable(FatalError):
    """No namespace with the map can be made here (unshare refused: a container's seccomp
    profile, a kernel setting; or newuidmap failed)."""


def call(idmap: ids.IdMap, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) as root of a namespace mapped by `idmap` (for a "range" map), its result or
    its exception passed back (both must pickle)."""
    if idmap.kind != "range":
        return fn(*args)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - measured in the child, which coverage does not follow
        for fd in (ready_r, go_w, out_r):
            os.close(fd)
        _child(ready_w, go_r, out_w, fn, args)
    for fd in (ready_w, go_r, out_w):
        os.close(fd)
    try:
        return _parent(idmap, pid, ready_r, go_w, out_r)  # type: ignore[no-any-return]
    except BaseException:  # Ctrl-C, or the function failed: nothing is left working
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        for fd in (ready_r, go_w, out_r):
            os.close(fd)
        os.waitpid(pid, 0)


def _parent(idmap: ids.IdMap, pid: int, ready: int, go: int, out: int) -> Any:
    if os.read(ready, 1) != b"y":
        raise Unmappable("user namespaces are disabled here (unshare(CLONE_NEWUSER) failed), "
                         "so files cannot be given your subordinate ids; run as root, or "
                         "enable them (sysctl kernel.unprivileged_userns_clone=1).")
    try:
        ids.write(idmap, pid)
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unmappable(f"the user namespace got no id map: {exc}; check /etc/subuid and "
                         "/etc/subgid and that newuidmap/newgidmap are setuid root "
                         "(apt-get install uidmap).") from None
    os.write(go, b"g")
    chunks = []
    while True:
        chunk = os.read(out, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        ok, value = pickle.loads(b"".join(chunks))
    except Exception:  # nothing, or a part: the child died (killed, out of memory)
        raise FatalError("the process working in the user namespace died before it "
                         "answered; run the command again (a killed run leaves nothing "
                         "half made)") from None
    if not ok:
        raise value
    return value


def _child(ready: int, go: int, out: int, fn: Callable[..., Any], args: tuple[Any, ...]
           ) -> None:  # pragma: no cover - runs in the child
    code = 0
    try:
        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            sc.unshare(sc.CLONE_NEWUSER)
        except OSError:
            os.write(ready, b"n")
            os._exit(1)
        os.write(ready, b"y")
        if os.read(go, 1) != b"g":
            os._exit(1)
        os.setgroups([])
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        try:
            reply = (True, fn(*args))
        except BaseException as exc:  # handed to the caller, who raises it
            reply = (False, exc)
        try:
            data = pickle.dumps(reply)
            pickle.loads(data)  # an exception whose __init__ takes other arguments fails here
        except Exception:
            what = reply[1]
            data = pickle.dumps((False, FatalError(f"{type(what).__name__}: {what}")))
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    except BaseException:  # never return into the caller's stack
        code = 1
    os._exit(code)

