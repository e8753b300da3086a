""".pre-commit-hooks.yaml runs `agentkit lint --changed` on the changed files: each stands for
its bundle directory, so the hook scripts (CRLF, missing, not executable), the `files` sources
and agentkit.yml are checked with the appspec that runs them."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from agentkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
APPSPEC = ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/a.sh\n"
           "    - location: scripts/b.sh\n")


def _hook_args() -> list[str]:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["language"], hook["types"]) == ("agentkit-lint", "python", ["file"])
    assert "files" not in hook  # every changed file: a script or agentkit.yml counts too
    program, *args = shlex.split(hook["entry"])
    assert program == "agentkit"
    return args


def _repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a bundle in deploy/ and a file of no bundle; pre-commit runs at its
    top with paths relative to it."""
    (tmp_path / "deploy" / "scripts").mkdir(parents=True)
    (tmp_path / "deploy" / "appspec.yml").write_text(APPSPEC)
    (tmp_path / "deploy" / "scripts" / "a.sh").write_text("#!/bin/sh\necho a\n")
    (tmp_path / "deploy" / "scripts" / "a.sh").chmod(0o755)
    (tmp_path / "README.md").write_text("hi\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_precommit_changed_appspec_checks_its_bundle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not "0 error(s)" for an appspec whose script is missing: its directory is checked."""
    _repo(tmp_path, monkeypatch)
    assert main([*_hook_args(), "deploy/appspec.yml", "README.md"]) == 1
    assert capsys.readouterr().out == (
        "deploy/scripts/b.sh: error AK500: hooks > AfterInstall > scripts/b.sh: the script is "
        "not in the bundle\n"
        "    fix: add the script to the bundle or fix the location (relative to the bundle "
        "root)\n"
        "    agent says: Script does not exist at specified location: "
        f"{tmp_path}/deploy/scripts/b.sh\n"
        "deploy/appspec.yml: agent 1.x accepts this appspec (0 error(s), 0 warning(s)); "
        "deploy/scripts/b.sh: 1 error(s), 0 warning(s)\n"
        "1 file(s) checked: 1 error(s), 0 warning(s)\n")


def test_precommit_changed_script_checks_its_appspec(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A script made CRLF and not executable: the commit that changes only it is checked."""
    repo = _repo(tmp_path, monkeypatch)
    (repo / "deploy" / "scripts" / "b.sh").write_text("#!/bin/sh\necho b\n")
    (repo / "deploy" / "scripts" / "b.sh").chmod(0o755)
    (repo / "deploy" / "scripts" / "a.sh").write_bytes(b"#!/bin/sh\r\necho a\r\n")
    (repo / "deploy" / "scripts" / "a.sh").chmod(0o644)
    assert main([*_hook_args(), "deploy/scripts/a.sh", "deploy/scripts/b.sh"]) == 1
    summary = capsys.readouterr().out.splitlines()[-2:]
    assert summary == [
        "deploy/appspec.yml: agent 1.x accepts this appspec (0 error(s), 0 warning(s)); "
        "deploy/scripts/a.sh: 1 error(s), 1 warning(s)",
        "1 file(s) checked: 1 error(s), 1 warning(s)"]


def test_precommit_files_of_no_bundle_check_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path, monkeypatch)
    assert main([*_hook_args(), "README.md"]) == 0
    assert capsys.readouterr().out == "0 file(s) checked: 0 error(s), 0 warning(s)\n"


def test_precommit_appspec_at_the_top(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "appspec.yml").write_text("version: '0.0'\nos: linux\n")
    assert main([*_hook_args(), "appspec.yml", "src/x.py"]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "./appspec.yml: agent 1.x rejects this appspec (1 error(s), 0 warning(s))",
        "1 file(s) checked: 1 error(s), 0 warning(s)"]
