"""`--format github`: one workflow command per finding, escaped as GitHub's toolkit escapes
(actions/toolkit packages/core/src/command.ts), so the runner reads back any text as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.cli import main
from agentkit.diagnose.engine import Diagnosis
from agentkit.findings import WARNING, Finding
from agentkit.report import github
from agentkit.verify.result import EventRun, Failure, VerifyResult

BAD = ("version: 0.0\nos: linux\nextra: 1\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
       "      timeout: 0\n")
TIMEOUT = ("The deployment failed because an invalid timeout value was provided for a script in "
           "the application specification file. Make corrections in the hooks section of the "
           "AppSpec file, and then try again.")


def _runner_unescape(text: str, is_property: bool) -> str:
    """The runner's unescaping (actions/runner src/Runner.Common/ActionCommand.cs): each
    escape replaced in turn, `%25` last, so an escaped `%` never starts another escape."""
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if is_property:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for escaped, plain in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


def _runner_parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner splits it: `::name props::message`, properties on
    `,`, each key from its value on the first `=`."""
    assert line.startswith("::")
    head, message = line[2:].split("::", 1)
    name, _, props = head.partition(" ")
    properties = {}
    for pair in props.split(",") if props else []:
        key, _, value = pair.partition("=")
        properties[key] = _runner_unescape(value, True)
    return name, properties, _runner_unescape(message, False)


def test_render_lint_whole_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "appspec.yml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "--format", "github", "appspec.yml"]) == 1
    assert capsys.readouterr().out == (
        "::warning file=appspec.yml,line=3,col=1,title=AK204::extra: `extra` is not read by "
        "the agent%0Afix: remove it; the agent reads only version, os, files, permissions, "
        "hooks, file_exists_behavior\n"
        "::error file=appspec.yml,line=7,col=16,title=AK131::hooks > AfterInstall[0] > timeout: "
        "expected a positive integer, got 0%0Afix: write the timeout in whole seconds, e.g. "
        f"`timeout: 300`%0Aagent says: {TIMEOUT}\n"
        "1 file(s) checked: 1 error(s), 1 warning(s)\n")


def test_annotate_escapes_properties_and_message() -> None:
    f = Finding(WARNING, "AK204", "dir,with:odd%/appspec.yml", 2, None, "50% done\r\nnext",
                "")
    assert github.annotate(f) == ("::warning file=dir%2Cwith%3Aodd%25/appspec.yml,line=2,"
                                  "title=AK204::50%25 done%0D%0Anext")


def test_render_verify_failure_with_diagnoses(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app").mkdir()
    monkeypatch.chdir(tmp_path)
    result = VerifyResult(
        str(tmp_path / "app"), "1", "directory", "dg-verify", "d-ABCDEFGHI",
        Failure("AfterInstall", "SCRIPT_FAILED", "exit code 127", "scripts/a.sh"),
        (EventRun("AfterInstall", "failed", "current"),),
        (Finding(WARNING, "AK702", "appspec.yml", None, None, "no ValidateService", "add one"),))
    diagnosis = Diagnosis("AK800", "command-not-found", "AfterInstall", "scripts/a.sh",
                          "`npm` is not on the PATH", "call it by its full path", "npm: not found")
    assert github.render_verify(result, (diagnosis,)) == (
        "::error file=app/scripts/a.sh,line=1,title=deployment fails in AfterInstall::The "
        "deployment would fail in AfterInstall (SCRIPT_FAILED): exit code 127%0AAK800 "
        "command-not-found: `npm` is not on the PATH%0Afix: call it by "
        "its full path\n"
        "::warning file=app/appspec.yml,line=1,title=AK702::no ValidateService%0Afix: add one\n"
        f"agentkit verify {tmp_path / 'app'}: the deployment fails in AfterInstall; 1 error(s), "
        "1 warning(s)\n")


def test_verify_format_github_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "app"
    bundle.mkdir()
    (bundle / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--format", "github", "app"]) == 0
    assert capsys.readouterr().out == (
        f"agentkit verify {bundle}: the deployment succeeds; 0 error(s), 0 warning(s)\n")


@given(st.text(), st.text(), st.text())
def test_command_round_trips_any_text(path: str, title: str, message: str) -> None:
    line = github.command("error", [("file", path), ("line", "1"), ("title", title)], message)
    assert "\n" not in line and "\r" not in line  # one command is one line of the log
    assert _runner_parse(line) == ("error", {"file": path, "line": "1", "title": title},
                                   message)


def test_from_sarif_same_annotations_as_format_github(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the action shows from verify's SARIF is what --format github prints."""
    bundle = tmp_path / "app"
    (bundle / "scripts").mkdir(parents=True)
    (bundle / "scripts" / "start.sh").write_text("#!/bin/bash\nexit 3\n")
    (bundle / "scripts" / "start.sh").chmod(0o755)
    (bundle / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nextra: 1\nhooks:\n  ApplicationStart:\n"
        "    - location: scripts/start.sh\n")
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--format", "github", "app"]) == 1
    annotations = capsys.readouterr().out.splitlines()[:-1]
    assert main(["verify", "--format", "sarif", "app"]) == 1
    (tmp_path / "v.sarif").write_text(capsys.readouterr().out)
    assert github.main([str(tmp_path / "v.sarif")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        *annotations, "agentkit: 1 error(s), 1 warning(s)"]
    assert annotations[0].startswith(
        "::error file=app/scripts/start.sh,line=1,title=deployment fails in ApplicationStart::The "
        "deployment would fail in ApplicationStart (SCRIPT_FAILED): ")


def test_from_sarif_main_unreadable_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.sarif").write_text("{not json")
    assert github.main([str(tmp_path / "x.sarif")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'x.sarif'}: not a SARIF file agentkit can read (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)); give the file `agentkit "
        "lint|verify --format sarif` wrote.\n")
