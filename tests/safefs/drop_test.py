"""drop: a step run as the tree's owner gives back its value or its exception."""

from __future__ import annotations

import os
import pwd

import pytest

from agentkit.safefs import drop
from agentkit.safefs.dirfd import Tampered


def _ids() -> tuple[int, int]:
    return os.geteuid(), os.getegid()


def _nobody() -> tuple[int, int]:
    if os.geteuid() != 0:
        pytest.skip("needs root: giving up root for another user")
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def test_drop_run_as_returns_the_steps_value_as_that_user() -> None:
    assert drop.run_as(*_nobody(), _ids) == _nobody()
    assert drop.run_as(-1, -1, _ids) == _ids()


def _fail() -> None:
    raise Tampered("/x/y", "a symlink", "a regular file")


def _die() -> None:
    os._exit(7)


def test_drop_run_as_raises_the_steps_exception_or_says_it_died() -> None:
    who = _nobody()
    with pytest.raises(Tampered) as exc:
        drop.run_as(*who, _fail)
    assert str(exc.value) == "/x/y: a symlink stands where a regular file was expected"
    with pytest.raises(drop.StepFailed) as died:
        drop.run_as(*who, _die)
    assert str(died.value) == (f"the step as uid {who[0]} ended without an answer (wait "
                               "status 1792)")


def test_drop_acting_owner_stays_root_when_the_owner_could_not_give_the_ids() -> None:
    st = os.stat("/")
    assert drop.acting_owner(st, (-1, -1)) == (st.st_uid, st.st_gid)
    assert drop.acting_owner(st, (st.st_uid + 1, -1)) == (-1, -1)
