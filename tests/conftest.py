from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


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


def real_users(names: tuple[str, ...], shells: tuple[str, ...],
               system: bool = False) -> Iterator[tuple[str, ...]]:
    """Real users of this machine, made for the test session and removed after it (those
    that already exist, e.g. made by CI for an unprivileged run, are left as they are)."""
    import pwd
    import subprocess

    made = []
    for name, shell in zip(names, shells):
        try:
            pwd.getpwnam(name)
        except KeyError:
            flags = ["--system", "--no-create-home"] if system else ["-m"]
            done = subprocess.run(["useradd", *flags, "-s", shell, name], capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                for other in made:
                    subprocess.run(["userdel", "-r", other], capture_output=True, check=False)
                pytest.skip(f"cannot create users here (needs root): {done.stderr.strip()}")
            made.append(name)
    yield names
    for name in made:
        subprocess.run(["userdel", "-r", name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def runas_users() -> Iterator[tuple[str, ...]]:
    """Two real users for `runas`: one with a shell, one with /usr/sbin/nologin."""
    yield from real_users(RUNAS_USERS, ("/bin/bash", "/usr/sbin/nologin"))
