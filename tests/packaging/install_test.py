"""packaging/install.sh and build-wheelhouse.sh, run for real into a scratch prefix: a venv
on the system python3, a wrapper, idempotent, atomic upgrades, a clean uninstall."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "packaging" / "install.sh"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

pytestmark = pytest.mark.skipif(
    subprocess.run([PYTHON, "-c", "import ensurepip, venv"], capture_output=True).returncode,
    reason=f"{PYTHON} has no venv/ensurepip (Debian: python3-venv): nothing to install with")


def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["sh", *args], capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def wheelhouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Wheels of this tree (0.1.0-ish, as it is) and of a copy that says it is one newer."""
    base = tmp_path_factory.mktemp("wheels")
    now = base / "now"
    _sh(str(ROOT / "packaging" / "build-wheelhouse.sh"), str(now), PYTHON)
    newer_src = base / "src"
    shutil.copytree(ROOT, newer_src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "__pycache__", "*.egg-info", "build", "tests"))
    init = newer_src / "agentkit" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "99.0.0"', init.read_text()))
    newer = base / "newer"
    _sh(str(newer_src / "packaging" / "build-wheelhouse.sh"), str(newer), PYTHON)
    return now, newer


def _version(bindir: Path) -> str:
    return subprocess.run([str(bindir / "agentkit"), "--version"], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_install_is_idempotent_and_runs_a_hook(tmp_path: Path,
                                               wheelhouses: tuple[Path, Path]) -> None:
    prefix, bindir = tmp_path / "opt", tmp_path / "bin"
    args = [str(INSTALL), "--prefix", str(prefix), "--bin", str(bindir), "--python", PYTHON,
            "--wheelhouse", str(wheelhouses[0])]
    first = _sh(*args)
    version = _version(bindir).split()[1]
    assert first.stdout.splitlines()[-1] == (
        f"agentkit {version} installed in {prefix} ({bindir}/agentkit)")
    assert (bindir / "agentkit").read_text() == (
        "#!/bin/sh\n# agentkit wrapper (packaging/install.sh)\n"
        f"exec {prefix}/current/bin/python -I -m agentkit \"$@\"\n")
    assert os.readlink(prefix / "bin") == "current/bin"
    assert (prefix / "bin" / "agentkit").exists()  # what the bundle's shim looks for
    releases = sorted(os.listdir(prefix / "releases"))
    stamp = (bindir / "agentkit").stat().st_mtime_ns
    again = _sh(*args)
    assert again.stdout == f"agentkit {version} is installed in {prefix} already: nothing changed\n"
    assert sorted(os.listdir(prefix / "releases")) == releases
    assert (bindir / "agentkit").stat().st_mtime_ns == stamp
    config = tmp_path / "agentkit.yml"
    config.write_text(f"version: 1\nhealth:\n  file: {tmp_path}/health.html\n")
    done = subprocess.run([str(bindir / "agentkit"), "hook", "health", "up", "--config",
                           str(config)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "health.html").exists()


def test_install_upgrade_swaps_current_and_a_failed_one_changes_nothing(
        tmp_path: Path, wheelhouses: tuple[Path, Path]) -> None:
    prefix, bindir = tmp_path / "opt", tmp_path / "bin"
    common = ["--prefix", str(prefix), "--bin", str(bindir), "--python", PYTHON]
    _sh(str(INSTALL), *common, "--wheelhouse", str(wheelhouses[0]))
    old = os.readlink(prefix / "current")
    _sh(str(INSTALL), *common, "--wheelhouse", str(wheelhouses[1]))
    assert _version(bindir) == "agentkit 99.0.0"
    assert os.readlink(prefix / "current") != old
    assert (prefix / old).is_dir()  # the one before is kept for a rollback
    # a wheelhouse without the dependencies: pip fails, the live install is untouched
    broken = tmp_path / "broken"
    broken.mkdir()
    for wheel in wheelhouses[0].glob("agentkit-*.whl"):
        shutil.copy(wheel, broken)
    live = os.readlink(prefix / "current")
    failed = _sh(str(INSTALL), *common, "--wheelhouse", str(broken), check=False)
    assert failed.returncode != 0
    assert os.readlink(prefix / "current") == live
    assert _version(bindir) == "agentkit 99.0.0"
    assert sorted(os.listdir(prefix / "releases")) == sorted({old.split("/")[1],
                                                               live.split("/")[1]})


def test_install_uninstall_leaves_nothing_and_keeps_a_foreign_wrapper(
        tmp_path: Path, wheelhouses: tuple[Path, Path]) -> None:
    prefix, bindir = tmp_path / "opt", tmp_path / "bin"
    common = ["--prefix", str(prefix), "--bin", str(bindir), "--python", PYTHON]
    _sh(str(INSTALL), *common, "--wheelhouse", str(wheelhouses[0]))
    assert _sh(str(INSTALL), "--uninstall", *common).stdout == f"agentkit removed from {prefix}\n"
    assert not prefix.exists() and os.listdir(bindir) == []
    (bindir / "agentkit").write_text("#!/bin/sh\necho someone else's\n")
    done = _sh(str(INSTALL), "--uninstall", *common)
    assert done.stderr == f"install.sh: {bindir}/agentkit is not ours; left as it is\n"
    assert (bindir / "agentkit").exists()
