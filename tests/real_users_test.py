"""The suite leaves this machine's users as it found them: real_users removes what it made,
takes over what a killed run left, keeps what others made, and a SIGTERM'd session tears down."""

from __future__ import annotations

import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import MADE_BY_TESTS, real_users, requires_root

NAME = "agentkit-selftest"


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def no_selftest_user() -> None:
    if _exists(NAME):
        pytest.skip(f"{NAME} exists on this machine already: not ours to remove")


@requires_root
def test_real_users_removes_the_users_it_made(no_selftest_user: None) -> None:
    users = real_users((NAME,), ("/usr/sbin/nologin",), system=True)
    try:
        assert next(users) == (NAME,)
        entry = pwd.getpwnam(NAME)
        assert (entry.pw_gecos, entry.pw_shell) == (MADE_BY_TESTS, "/usr/sbin/nologin")
    finally:
        users.close()
    assert not _exists(NAME)


@requires_root
def test_real_users_takes_over_a_leftover_of_a_killed_run(no_selftest_user: None) -> None:
    subprocess.run(["useradd", "--system", "--no-create-home", "-c", MADE_BY_TESTS, NAME],
                   check=True)
    try:
        for _ in real_users((NAME,), ("/usr/sbin/nologin",), system=True):
            assert _exists(NAME)
        left = _exists(NAME)
    finally:
        subprocess.run(["userdel", NAME], capture_output=True, check=False)
    assert not left


@requires_root
def test_real_users_leaves_a_user_it_did_not_make(no_selftest_user: None) -> None:
    subprocess.run(["useradd", "--system", "--no-create-home", "-c", "made by CI", NAME],
                   check=True)
    try:
        for _ in real_users((NAME,), ("/usr/sbin/nologin",), system=True):
            pass
        assert pwd.getpwnam(NAME).pw_gecos == "made by CI"
    finally:
        subprocess.run(["userdel", NAME], capture_output=True, check=False)


INNER = f'''
import time
from pathlib import Path
import pytest
from tests.conftest import real_users

@pytest.fixture(scope="session")
def user():
    yield from real_users(({NAME!r},), ("/usr/sbin/nologin",), system=True)

def test_waits(user, tmp_path):
    Path(__file__).with_name("ready").write_text("ready")
    time.sleep(120)
'''


@requires_root
def test_session_ended_by_sigterm_still_removes_its_users(tmp_path: Path,
                                                          no_selftest_user: None) -> None:
    # what `timeout 1500 pytest ...` does to a session that runs too long
    (tmp_path / "inner_test.py").write_text(INNER)
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-p", "tests.conftest", "--rootdir", str(tmp_path),
                              str(tmp_path / "inner_test.py")], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert child.poll() is None, child.communicate()[0]
            assert time.monotonic() < deadline, "the inner session never started its test"
            time.sleep(0.05)
        assert _exists(NAME)
        child.terminate()
        out, _ = child.communicate(timeout=60)
        left = _exists(NAME)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        subprocess.run(["userdel", NAME], capture_output=True, check=False)
    assert "KeyboardInterrupt" in out, out
    assert not left, out
