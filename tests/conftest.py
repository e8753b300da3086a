from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # `timeout`, a CI abort: SIGTERM would end the session without its teardown, leaving the
    # users real_users made; as an interrupt, the fixtures are torn down on the way out
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """verify run in-process installs its own SIGTERM/SIGHUP handlers: put back the session's
    after each test, so a SIGTERM still ends the session with its teardown."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in before.items():
        if handler is not None:
            signal.signal(sig, handler)


@pytest.fixture
def lint_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., dict[str, Any]]:
    """Write `text` as appspec.yml in tmp_path, run `agentkit lint --format json`, parse it."""

    def run(text: str, *extra: str, name: str = "appspec.yml") -> dict[str, Any]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code = main(["lint", "--format", "json", *extra, str(path)])
        out = json.loads(capsys.readouterr().out)
        out["exit"] = code
        return out

    return run


RUNAS_USERS = ("agentkit-bash", "agentkit-nologin")


requires_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: it changes owners or users on this machine itself "
                              "(verify's box covers the same for every user)")


MADE_BY_TESTS = "agentkit test user (tests/conftest.py real_users)"


def real_users(names: tuple[str, ...], shells: tuple[str, ...],
               system: bool = False) -> Iterator[tuple[str, ...]]:
    """Real users of this machine, made for the test session and removed after it (those
    that already exist, e.g. made by CI for an unprivileged run, are left as they are). Each
    is marked as the tests' own (its GECOS comment), so one left by a run that was killed
    before its teardown is taken over and removed by the next run."""
    import pwd
    import subprocess

    made = []
    for name, shell in zip(names, shells):
        try:
            if pwd.getpwnam(name).pw_gecos == MADE_BY_TESTS:
                made.append(name)  # left by a run that was killed: ours to remove
        except KeyError:
            flags = ["--system", "--no-create-home"] if system else ["-m"]
            done = subprocess.run(["useradd", *flags, "-c", MADE_BY_TESTS, "-s", shell, name],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                for other in made:
                    subprocess.run(["userdel", "-r", other], capture_output=True, check=False)
                pytest.skip(f"cannot create users here (needs root): {done.stderr.strip()}")
            made.append(name)
    try:
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", "-r", name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def runas_users() -> Iterator[tuple[str, ...]]:
    """Two real users for `runas`: one with a shell, one with /usr/sbin/nologin."""
    yield from real_users(RUNAS_USERS, ("/bin/bash", "/usr/sbin/nologin"))


@pytest.fixture
def image_cache(tmp_path: Path) -> Iterator[Path]:
    """A cache of unpacked images ($XDG_CACHE_HOME/agentkit/images for XDG_CACHE_HOME two
    levels up), emptied afterwards by agentkit: a plain user's entries hold files of its
    subordinate ids, which pytest could not remove."""
    from agentkit.image import cache as image

    cache = tmp_path / "xdg" / "agentkit" / "images"
    yield cache
    for entry in image.entries(str(cache)):
        image.remove(entry.root)
    for half in image.half_made(str(cache)):
        image.remove(half)
