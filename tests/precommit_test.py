""".pre-commit-hooks.yaml runs `agentkit lint` on appspec files and nothing else."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from agentkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_precommit_hook_entry_is_the_lint_command(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "agentkit-lint"
    assert hook["language"] == "python"
    program, *args = shlex.split(hook["entry"])
    assert program == "agentkit"
    bad = tmp_path / "appspec.yml"
    bad.write_text("version: '0.0'\nos: linux\n")
    assert main([*args, str(bad)]) == 1  # pre-commit appends the staged file names


def test_precommit_hook_matches_only_appspec_files() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    pattern = re.compile(hook["files"])
    assert pattern.search("deploy/appspec.yml")
    assert pattern.search("appspec.yaml")
    assert not pattern.search("deploy/buildspec.yml")
    assert not pattern.search("my-appspec.yml")
