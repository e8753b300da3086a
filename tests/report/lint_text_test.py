"""lint's text summary names the file its errors are in: the appspec's own counts, then each
other file with findings (agentkit.yml, hook scripts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit.appspec.rules import RULES
from agentkit.cli import main


def test_render_summary_names_agentkit_yml_errors(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (tmp_path / "app" / "agentkit.yml").write_text("version: 1\ncolour: red\n")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "app"]) == 1
    assert capsys.readouterr().out == (
        "app/agentkit.yml:2:1: error AK600: colour: unknown key; expected one of version, "
        "release, shared, permissions, health, validate, preflight, events, log, releases, "
        f"deploy, verify\n    fix: {RULES['AK600'].hint}\n"
        "app/appspec.yml: agent 1.x accepts this appspec (0 error(s), 0 warning(s)); "
        "app/agentkit.yml: 1 error(s), 0 warning(s)\n"
        "1 file(s) checked: 1 error(s), 0 warning(s)\n")


def test_render_summary_names_each_script_with_findings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = tmp_path / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nextra: 1\nhooks:\n  AfterInstall:\n"
        "    - location: scripts/a.sh\n    - location: scripts/b.sh\n")
    (app / "scripts" / "a.sh").write_text("#!/bin/sh\necho a\n")  # not executable
    (app / "scripts" / "a.sh").chmod(0o644)
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "app"]) == 1
    summary = capsys.readouterr().out.splitlines()[-2:]
    assert summary == [
        "app/appspec.yml: agent 1.x accepts this appspec (0 error(s), 1 warning(s)); "
        "app/scripts/a.sh: 0 error(s), 1 warning(s); app/scripts/b.sh: 1 error(s), "
        "0 warning(s)",
        "1 file(s) checked: 1 error(s), 2 warning(s)"]
