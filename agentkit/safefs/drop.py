"""Running one step with no more power over files than the tree's owner has.

A step that only needs the rights of a tree's owner (writing the health file in its
directory, a shared file in a share the application user owns) runs in a forked child whose
file system identity is that owner's: supplementary groups, gid, then setfsuid(2), which
also drops root's file capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER...). A check
that was missed there can do no more to files than that owner already could. The child
stays root's otherwise (real, effective and saved uid), so that the owner, who may be the
attacker, can neither signal, stop nor trace it; and the parent waits for it only so long.
The step's return value or exception comes back pickled through a pipe.
"""

from __future__ import annotations

import os
import pwd
import select
import signal
import time
from typing import Any, Callable, TypeVar

from agentkit.errors import FatalError

T = TypeVar("T")
STEP_SECONDS = 120.0  # a step writes one small file: far more than it needs


class StepFailed(FatalError):
    """The child died, did not answer in time, or sent what could not be read back."""


def owner_groups(uid: int, gid: int) -> list[int]:
    """The supplementary groups of the user `uid` (none for an id without a name)."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return [gid]
    return os.getgrouplist(name, gid)


def acting_owner(directory: os.stat_result, ids: tuple[int, int]) -> tuple[int, int]:
    """Who does a step in `directory` that gives its result the owner `ids` (-1: keep):
    the directory's owner where that owner could do all of it, else this process as it is
    (-1, -1)."""
    uid, gid = ids
    if uid not in (-1, directory.st_uid):
        return -1, -1
    if gid != -1 and gid not in owner_groups(directory.st_uid, directory.st_gid):
        return -1, -1
    return directory.st_uid, directory.st_gid


def run_as(uid: int, gid: int, step: Callable[..., T], *args: Any,
           seconds: float = STEP_SECONDS) -> T:
    """step(*args) with the file system identity uid/gid; in this process when that is who
    we are already."""
    if os.geteuid() != 0 or uid in (0, -1):
        return step(*args)
    import pickle  # only where a step is handed to a child

    groups = owner_groups(uid, gid)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's lines are measured by its effects
        os.close(read_end)
        _child(write_end, uid, gid, groups, step, args)
    os.close(write_end)
    try:
        data = _read_until(read_end, time.monotonic() + seconds)
    finally:
        os.close(read_end)
    if data is None:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if data is None:
        raise StepFailed(f"the step as uid {uid} did not finish in {seconds:g} s and was "
                         "stopped; run the deployment again")
    try:
        ok, value = pickle.loads(data)
    except Exception:
        raise StepFailed(_died(uid, status)) from None
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _died(uid: int, status: int) -> str:
    how = f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else \
        f"exited with status {os.waitstatus_to_exitcode(status)}"
    return (f"the step as uid {uid} {how} before it answered (something on this machine "
            "ended it); run the deployment again")


def _read_until(fd: int, deadline: float) -> bytes | None:
    """All the pipe holds until its writer closes it; None past the deadline."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _become(uid: int, gid: int, groups: list[int]) -> None:  # pragma: no cover - in the child
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    libc.setfsuid(uid)
    if libc.setfsuid(-1) != uid:  # setfsuid reports nothing: ask for it back
        raise OSError("setfsuid did not take")


def _child(out: int, uid: int, gid: int, groups: list[int], step: Callable[..., Any],
           args: tuple[Any, ...]) -> None:  # pragma: no cover - runs in the forked child
    import pickle

    code = 0
    try:
        _become(uid, gid, groups)
        payload = pickle.dumps((True, step(*args)))
    except BaseException as exc:
        code = 1
        try:
            payload = pickle.dumps((False, exc))
        except Exception:
            payload = pickle.dumps((False, StepFailed(f"{type(exc).__name__}: {exc}")))
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(out, view):]
    finally:
        os._exit(code)
