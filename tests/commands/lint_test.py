"""`agentkit lint` of several paths at once: one JSON document, its counts the sum of every
file's, each file judged on its own, the exit status from all of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from ..archives import Spec, tar, zip_
from ..unprivileged import run_cli

GOOD = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\n"
# one warning (AK204) and one error (AK131)
BAD = ("version: 0.0\nos: linux\nextra: 1\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
       "      timeout: 0\n")
TIMEOUT = ("The deployment failed because an invalid timeout value was provided for a script in "
           "the application specification file. Make corrections in the hooks section of the "
           "AppSpec file, and then try again.")
AK204 = {"severity": "warning", "code": "AK204", "line": 3, "column": 1,
         "message": "extra: `extra` is not read by the agent",
         "hint": "remove it; the agent reads only version, os, files, permissions, hooks, "
                 "file_exists_behavior", "agent_message": None}
AK131 = {"severity": "error", "code": "AK131", "line": 7, "column": 16,
         "message": "hooks > AfterInstall[0] > timeout: expected a positive integer, got 0",
         "hint": "write the timeout in whole seconds, e.g. `timeout: 300`",
         "agent_message": TIMEOUT}


def _lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["lint", "--format", "json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _tree(tmp: Path) -> tuple[Path, Path, Path]:
    (tmp / "clean").mkdir()
    (tmp / "clean/appspec.yml").write_text(GOOD)
    (tmp / "bad.yml").write_text(BAD)
    (tmp / "only-yaml").mkdir()
    (tmp / "only-yaml/appspec.yaml").write_text(GOOD)
    return tmp / "clean", tmp / "bad.yml", tmp / "only-yaml"


def test_lint_json_several_paths_one_document_with_summed_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean, bad, only_yaml = _tree(tmp_path)
    code, out, err = _lint(capsys, str(clean), str(bad), str(only_yaml))
    assert (code, err) == (1, "")
    not_found = (
        'The CodeDeploy agent did not find an AppSpec file within the unpacked revision '
        'directory at revision-relative path "appspec.yml". The revision was unpacked to '
        f'directory "{only_yaml}", and the AppSpec file was expected but not found at path '
        f'"{only_yaml}/appspec.yml". Consult the AWS CodeDeploy Appspec documentation for more '
        'information at http://docs.aws.amazon.com/codedeploy/latest/userguide/'
        'reference-appspec-file.html')
    assert out == {
        "files": [
            {"path": f"{clean}/appspec.yml", "agent": "1", "agent_verdict": "accepted",
             "agent_error": None, "findings": []},
            {"path": str(bad), "agent": "1", "agent_verdict": "rejected",
             "agent_error": TIMEOUT, "findings": [{**AK204, "path": str(bad)},
                                                  {**AK131, "path": str(bad)}]},
            {"path": f"{only_yaml}/appspec.yaml", "agent": "1", "agent_verdict": "rejected",
             "agent_error": not_found, "findings": [{
                 "severity": "error", "code": "AK151", "path": f"{only_yaml}/appspec.yaml",
                 "line": None, "column": None,
                 "message": "only appspec.yaml: agent 1.x installs from it, but its hook "
                            "executor reads only appspec.yml and fails at BeforeInstall",
                 "hint": "rename appspec.yaml to appspec.yml", "agent_message": not_found}]}],
        "errors": 2, "warnings": 1}


def test_lint_json_counts_follow_the_paths_given(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    clean, bad, only_yaml = _tree(tmp_path)
    for paths, errors, warnings, code in (
            ((clean,), 0, 0, 0), ((clean, clean), 0, 0, 0), ((bad, bad), 2, 2, 1),
            ((only_yaml, clean), 1, 0, 1), ((bad, clean, only_yaml, bad), 3, 2, 1)):
        got, out, _ = _lint(capsys, *map(str, paths))
        assert [f["agent_verdict"] for f in out["files"]] == [
            "accepted" if p == clean else "rejected" for p in paths]
        assert (out["errors"], out["warnings"], got) == (errors, warnings, code), paths
        assert out["errors"] == sum(f["severity"] == "error" for r in out["files"]
                                    for f in r["findings"])
        assert out["warnings"] == sum(f["severity"] == "warning" for r in out["files"]
                                      for f in r["findings"])


def test_lint_json_warnings_only_exit_0_unless_strict(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    clean, _, _ = _tree(tmp_path)
    warned = tmp_path / "warned.yml"
    warned.write_text(GOOD + "extra: 1\n")
    code, out, _ = _lint(capsys, str(clean), str(warned))
    assert (code, out["errors"], out["warnings"]) == (0, 0, 1)
    code, strict, _ = _lint(capsys, "--strict", str(clean), str(warned))
    assert (code, strict) == (1, out)  # the same document; only the exit status differs


def test_lint_json_agent_2_for_every_path(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    clean, bad, only_yaml = _tree(tmp_path)
    code, out, _ = _lint(capsys, "--agent", "2", str(clean), str(bad), str(only_yaml))
    assert code == 1
    assert [(f["agent"], f["agent_verdict"]) for f in out["files"]] == [
        ("2", "accepted"), ("2", "rejected"), ("2", "rejected")]
    assert [[x["code"] for x in f["findings"]] for f in out["files"]][2] == ["AK151"]


def test_lint_json_missing_path_among_several_prints_no_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean, bad, _ = _tree(tmp_path)
    missing = tmp_path / "nope"
    assert main(["lint", "--format", "json", str(clean), str(missing), str(bad)]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "", f"agentkit: error: {missing}: no such file or directory. Give an appspec file or a "
            "bundle directory that holds appspec.yml.\n")


def test_lint_text_several_paths_ends_with_the_totals(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    clean, bad, only_yaml = _tree(tmp_path)
    assert main(["lint", str(clean), str(bad), str(only_yaml)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.endswith((" warning(s)", " warning(s))"))] == [
        f"{clean}/appspec.yml: agent 1.x accepts this appspec (0 error(s), 0 warning(s))",
        f"{bad}: agent 1.x rejects this appspec (1 error(s), 1 warning(s))",
        f"{only_yaml}/appspec.yaml: agent 1.x rejects this appspec (1 error(s), 0 warning(s))",
        "3 file(s) checked: 2 error(s), 1 warning(s)"]


@pytest.mark.parametrize(("name", "kind"), [("app.tgz", "tar.gz"), ("app.zip", "zip"),
                                          ("app.tar", "tar")])
def test_lint_archive_says_verify_reads_archives(tmp_path: Path, name: str, kind: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    members: list[Spec] = [("appspec.yml", "file", GOOD, 0o644)]
    arc = zip_(tmp_path / name, members) if kind == "zip" else \
        tar(tmp_path / name, members, gz=kind == "tar.gz")
    assert main(["lint", str(arc)]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", (
        f"agentkit: error: {arc}: a {kind} archive, not an appspec file. lint reads appspec "
        f"files and bundle directories; `agentkit verify {arc}` reads archives (it unpacks "
        "them as the agent does).\n"))


def test_lint_unreadable_hook_script_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text(
        GOOD + "hooks:\n  AfterInstall:\n    - location: run.sh\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\r\n")  # (a CRLF shebang, unseen)
    (tmp_path / "run.sh").chmod(0o000)
    code, out, err = run_cli(["lint", "--format", "json", str(tmp_path)])
    assert (code, err) == (0, "")
    findings = json.loads(out)["files"][0]["findings"]
    assert [(f["code"], f["path"], f["message"], f["hint"]) for f in findings] == [
        ("AK501", f"{tmp_path}/run.sh", "hooks > AfterInstall > run.sh: not executable; the "
         "agent runs chmod +x on it itself", "git update-index --chmod=+x run.sh (or chmod +x "
         "before archiving)"),
        ("AK508", f"{tmp_path}/run.sh", "hooks > AfterInstall > run.sh: this user cannot read "
         "the script (Permission denied), so its first line (shebang, BOM, line ending) is not "
         "checked; the agent, as root, reads it", "make it readable (chmod a+r), or run the "
         "check as a user who can read it")]
