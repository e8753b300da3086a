"""packaging/cloud-init: the user data passes cloud-init's own schema check, and the
preflight config it writes is one agentkit accepts (the same in the bash variant)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agentkit.hooks import config

DIR = Path(__file__).resolve().parents[2] / "packaging" / "cloud-init"
needs_cloud_init = pytest.mark.skipif(shutil.which("cloud-init") is None,
                                      reason="cloud-init is not installed here")


def _schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                          capture_output=True, text=True, check=False)


@needs_cloud_init
def test_cloud_init_user_data_is_valid_and_a_broken_one_is_not(tmp_path: Path) -> None:
    done = _schema(DIR / "user-data.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text((DIR / "user-data.yaml").read_text().replace(
        "runcmd:", "runcmd: 5\nunused:", 1))
    assert _schema(broken).returncode != 0


def test_cloud_init_boot_config_is_agentkit_s_and_the_same_in_bash(tmp_path: Path) -> None:
    data = yaml.safe_load((DIR / "user-data.yaml").read_text())
    (written,) = [f for f in data["write_files"] if f["path"] == "/etc/agentkit/boot.yml"]
    path = tmp_path / "boot.yml"
    path.write_text(written["content"])
    cfg = config.load(str(path))
    assert cfg.preflight is not None and cfg.preflight.mounts == ("/mnt/efs",)
    script = (DIR / "user-data.sh").read_text()
    heredoc = re.search(r"<<'YAML'\n(.*?)YAML\n", script, re.S)
    assert heredoc is not None
    strip = [line for line in written["content"].splitlines() if not line.startswith("#")]
    assert heredoc.group(1).splitlines() == strip
    assert data["runcmd"][1] == ["/usr/local/bin/agentkit", "hook", "preflight", "--config",
                                 "/etc/agentkit/boot.yml"]
    assert data["runcmd"][-1] == ["systemctl", "start", "codedeploy-agent"]
