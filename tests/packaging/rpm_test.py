"""packaging/build-rpm.sh: the .rpm is built with rpmbuild, inspected with rpm -qip/-qlp,
installed with `rpm -i --nodeps --root` into a scratch root, and runs from there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import requires_root

ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"

pytestmark = [
    requires_root,
    pytest.mark.skipif(shutil.which("rpmbuild") is None or not os.path.exists(PYTHON),
                       reason="needs rpmbuild (Debian: apt-get install rpm) and /usr/bin/python3"),
]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def test_rpm_is_built_inspected_and_installed_into_a_scratch_root(tmp_path: Path) -> None:
    built = _run("sh", str(ROOT / "packaging" / "build-rpm.sh"), str(tmp_path / "out"),
                 "--python", PYTHON)
    assert built.returncode == 0, built.stderr
    rpm = built.stdout.strip().splitlines()[-1]
    info = _run("rpm", "-qp", "--queryformat", "%{NAME} %{VERSION}\n", rpm)
    version = _run(PYTHON, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                   "import agentkit; print(agentkit.__version__)", str(ROOT)).stdout.strip()
    assert info.stdout == f"agentkit {version}\n"
    requires = _run("rpm", "-qpR", rpm).stdout.split()
    assert any(r.startswith("python3.") for r in requires)
    files = set(_run("rpm", "-qlp", rpm).stdout.split())
    assert {"/usr/bin/agentkit", "/opt/agentkit/current", "/opt/agentkit/bin",
            f"/opt/agentkit/releases/{version}/bin/agentkit"} <= files
    scratch = tmp_path / "root"
    done = _run("rpm", "-i", "--nodeps", "--root", str(scratch), rpm)
    assert done.returncode == 0, done.stderr
    assert (scratch / "usr" / "bin" / "agentkit").read_text().endswith(
        'exec /opt/agentkit/current/bin/python -I -m agentkit "$@"\n')
    ran = _run(str(scratch / "opt" / "agentkit" / "current" / "bin" / "python"), "-I", "-m",
               "agentkit", "--version")
    assert ran.stdout == f"agentkit {version}\n", ran.stderr
