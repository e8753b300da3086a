"""Running one step as a less privileged user: no more power than the step needs.

A step that only needs the rights of a tree's owner (writing the health file in its
directory, seeding a share the application user owns) runs in a forked child that has
given up root (supplementary groups, then gid, then uid, all three of each), so a check
that was missed there can do no more than that owner already could. The step's return
value or exception comes back pickled through a pipe.
"""

from __future__ import annotations

import os
import pwd
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class StepFailed(Exception):
    """The child died or sent what could not be read back."""


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


def run_as(uid: int, gid: int, step: Callable[..., T], *args: Any) -> T:
    """step(*args) as uid/gid; in this process when that is who we are already."""
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
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    try:
        ok, value = pickle.loads(data)
    except Exception:
        raise StepFailed(f"the step as uid {uid} ended without an answer (wait status "
                         f"{status})") from None
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _child(out: int, uid: int, gid: int, groups: list[int], step: Callable[..., Any],
           args: tuple[Any, ...]) -> None:  # pragma: no cover - runs in the forked child
    import pickle

    code = 0
    try:
        os.setgroups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
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
