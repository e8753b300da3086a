from __future__ import annotations

import json
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


@pytest.fixture(scope="session")
def runas_users() -> tuple[str, str]:
    """Two real users for `runas`: one with a shell, one with /usr/sbin/nologin."""
    import pwd
    import subprocess

    for name, shell in zip(RUNAS_USERS, ("/bin/bash", "/usr/sbin/nologin")):
        try:
            pwd.getpwnam(name)
        except KeyError:
            done = subprocess.run(["useradd", "-m", "-s", shell, name], capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"cannot create users here (needs root): {done.stderr.strip()}")
    return RUNAS_USERS
