"""drop: a step runs with the file system identity of the tree's owner, and that owner can
neither signal nor stop it."""

from __future__ import annotations

import os
import pwd
import signal
import tempfile
import time

import pytest

from agentkit.safefs import drop
from agentkit.safefs.dirfd import Tampered


def _nobody() -> tuple[int, int]:
    if os.geteuid() != 0:
        pytest.skip("needs root: giving up root's file rights for another user")
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _make_file(directory: str) -> tuple[int, int]:
    """Who a file made by the step belongs to, and whether the step may read root's 0600."""
    fd, path = tempfile.mkstemp(dir=directory)
    os.close(fd)
    owner = os.stat(path).st_uid
    try:
        with open(os.path.join(directory, "root-only"), "rb"):  # root's, 0600
            readable = 1
    except PermissionError:
        readable = 0
    return owner, readable


def test_drop_run_as_has_the_owners_file_rights() -> None:
    who = _nobody()
    shared = tempfile.mkdtemp(dir="/tmp")  # pytest's tmp is root's 0700: nobody can't enter
    try:
        os.chmod(shared, 0o1777)
        fd = os.open(os.path.join(shared, "root-only"), os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        assert drop.run_as(*who, _make_file, shared) == (who[0], 0)
        assert drop.run_as(-1, -1, _make_file, shared) == (os.geteuid(), 1)
    finally:
        import shutil
        shutil.rmtree(shared)


def _signal_me_as(uid: int) -> str:
    """From a process of `uid`, try to signal this one (the step)."""
    step = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the would-be attacker
        os.setresuid(uid, uid, uid)
        try:
            os.kill(step, signal.SIGSTOP)
            os._exit(0)
        except PermissionError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return "refused" if os.waitstatus_to_exitcode(status) == 1 else "signalled"


def test_drop_the_owner_cannot_signal_or_stop_the_step() -> None:
    who = _nobody()
    assert drop.run_as(*who, _signal_me_as, who[0]) == "refused"


def _fail() -> None:
    raise Tampered("/x/y", "a symlink", "a regular file")


def _die() -> None:
    os._exit(7)


def _hang() -> None:
    time.sleep(30)


def test_drop_run_as_raises_the_steps_exception_or_says_what_ended_it() -> None:
    who = _nobody()
    with pytest.raises(Tampered) as exc:
        drop.run_as(*who, _fail)
    assert str(exc.value) == "/x/y: a symlink stands where a regular file was expected"
    with pytest.raises(drop.StepFailed) as died:
        drop.run_as(*who, _die)
    assert str(died.value) == (f"the step as uid {who[0]} exited with status 7 before it "
                               "answered (something on this machine ended it); run the "
                               "deployment again")
    start = time.monotonic()
    with pytest.raises(drop.StepFailed) as hung:
        drop.run_as(*who, _hang, seconds=0.5)
    assert time.monotonic() - start < 10
    assert str(hung.value) == (f"the step as uid {who[0]} did not finish in 0.5 s and was "
                               "stopped; run the deployment again")


def test_drop_acting_owner_stays_root_when_the_owner_could_not_give_the_ids() -> None:
    st = os.stat("/")
    assert drop.acting_owner(st, (-1, -1)) == (st.st_uid, st.st_gid)
    assert drop.acting_owner(st, (st.st_uid + 1, -1)) == (-1, -1)
