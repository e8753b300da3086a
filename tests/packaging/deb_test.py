"""packaging/build-deb.sh: the .deb is built, installed on this machine with dpkg, runs
agentkit and a hook from /opt/agentkit, and is removed leaving nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import requires_root

ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"


def _dpkg_knows_python() -> bool:
    if not os.path.exists(PYTHON) or shutil.which("dpkg") is None:
        return False
    minor = subprocess.run([PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return subprocess.run(["dpkg", "-s", f"python{minor}"], capture_output=True,
                          check=False).returncode == 0


pytestmark = [
    requires_root,
    pytest.mark.skipif(not _dpkg_knows_python(), reason="needs dpkg and a Debian python3 "
                       "package (the .deb depends on it)"),
    pytest.mark.skipif(os.path.lexists("/opt/agentkit") or os.path.lexists("/usr/bin/agentkit"),
                       reason="agentkit is installed on this machine already: not ours to "
                       "replace"),
]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def test_deb_installs_runs_a_hook_and_removes_cleanly(tmp_path: Path) -> None:
    built = _run("sh", str(ROOT / "packaging" / "build-deb.sh"), str(tmp_path / "out"),
                 "--python", PYTHON)
    assert built.returncode == 0, built.stderr
    deb = built.stdout.strip().splitlines()[-1]
    info = _run("dpkg-deb", "-f", deb, "Package", "Depends").stdout
    assert info.startswith("Package: agentkit\nDepends: python3.")
    assert _run("dpkg", "-i", deb).returncode == 0
    try:
        version = _run("/usr/bin/agentkit", "--version")
        assert version.returncode == 0 and version.stdout.startswith("agentkit "), version.stderr
        assert _run("/opt/agentkit/bin/agentkit", "--version").stdout == version.stdout
        config = tmp_path / "agentkit.yml"
        config.write_text(f"version: 1\nhealth:\n  file: {tmp_path}/health.html\n")
        hook = _run("/usr/bin/agentkit", "hook", "health", "up", "--config", str(config))
        assert hook.returncode == 0, hook.stderr
        assert (tmp_path / "health.html").exists()
    finally:
        removed = _run("dpkg", "--purge", "agentkit")
    assert removed.returncode == 0, removed.stderr
    assert not os.path.lexists("/opt/agentkit")
    assert not os.path.lexists("/usr/bin/agentkit")
    assert _run("dpkg", "-s", "agentkit").returncode != 0
