"""The lifecycle's own truths: a failure of verify's machinery is never the deployment's."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agentkit.cli import main

from ..archives import tar

needs_chattr = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("chattr") is None,
    reason="an immutable directory (chattr +i) needs root and e2fsprogs' chattr")


def _bundle(path: Path, dest: str) -> Path:
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    return tar(path, [("appspec.yml", "file", spec, 0o644), ("app/a.txt", "file", "a", 0o644)])


@needs_chattr
def test_lifecycle_install_own_disk_failure_is_undetermined_not_install_failed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "state"
    first = _bundle(tmp_path / "a.tgz", "/opt/agentkit-lifecycle-a")
    assert main(["verify", "--hooks", "skip", "--state-dir", str(work), str(first)]) == 0
    capsys.readouterr()
    upper_opt = work / "sandbox" / "upper" / "opt"  # where the first Install's copy lives
    assert upper_opt.is_dir()
    # a real EPERM from verify's own disk, where the second Install writes its copy
    probe = subprocess.run(["chattr", "+i", str(upper_opt)], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this file system has no immutable flag: {probe.stderr.strip()}")
    try:
        second = _bundle(tmp_path / "b.tgz", "/opt/agentkit-lifecycle-b")
        code = main(["verify", "--hooks", "skip", "--state-dir", str(work), str(second)])
    finally:
        subprocess.run(["chattr", "-i", str(upper_opt)], check=True)
    out, err = capsys.readouterr()
    assert code == 4
    assert "Install              failed" not in out
    assert err == (
        f"agentkit: error: verify's own copy of the instance under {work} failed while Install "
        f"ran (Operation not permitted: {upper_opt}/agentkit-lifecycle-b). That says nothing "
        "of the deployment: give verify a work directory it may write (free space, nothing "
        "immutable or read-only in it; or --state-dir elsewhere) and run it again.\n")
