"""packaging/packer: `packer validate` and `packer fmt -check` pass on the template, and a
broken copy is refused (the check can fail)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DIR = Path(__file__).resolve().parents[2] / "packaging" / "packer"
pytestmark = pytest.mark.skipif(shutil.which("packer") is None,
                                reason="packer is not installed here (Debian: apt-get install "
                                       "packer)")


def _packer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["packer", *args], capture_output=True, text=True, check=False)


def test_packer_template_validates_and_is_formatted() -> None:
    done = _packer("validate", str(DIR))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _packer("fmt", "-check", str(DIR)).returncode == 0


def test_packer_broken_template_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "packer"
    shutil.copytree(DIR, copy)
    template = copy / "agentkit.pkr.hcl"
    template.write_text(template.read_text().replace('  region        = var.region\n', ''))
    (copy / "provision.sh").unlink()
    done = _packer("validate", str(copy))
    assert done.returncode != 0
    assert "provision.sh" in done.stdout + done.stderr
