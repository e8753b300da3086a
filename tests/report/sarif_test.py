"""`--format sarif`: SARIF 2.1.0 with every rule (its help and docs page), a result per finding
at its file, line and column, and verify's failure with its diagnoses in the properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentkit import __version__
from agentkit.appspec.rules import RULES
from agentkit.cli import main
from agentkit.diagnose import rules as diagnose_rules
from agentkit.diagnose.engine import Diagnosis
from agentkit.findings import ERROR, Finding
from agentkit.report import sarif
from agentkit.verify.result import EventRun, Failure, VerifyResult

BAD = ("version: 0.0\nos: linux\nextra: 1\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
       "      timeout: 0\n")
TIMEOUT = ("The deployment failed because an invalid timeout value was provided for a script in "
           "the application specification file. Make corrections in the hooks section of the "
           "AppSpec file, and then try again.")


def _sarif(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--format", "sarif"])
    return code, json.loads(capsys.readouterr().out)


def _index(doc: dict[str, Any], code: str) -> int:
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    return [r["id"] for r in rules].index(code)


def test_render_lint_results_at_file_line_column(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "appspec.yml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    code, doc = _sarif(capsys, "lint", "appspec.yml")
    assert code == 1
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    assert {k: v for k, v in run["tool"]["driver"].items() if k != "rules"} == {
        "name": "agentkit", "version": __version__,
        "informationUri": "https://github.com/agentkit/agentkit"}
    assert run["results"] == [
        {"ruleId": "AK204", "ruleIndex": _index(doc, "AK204"), "level": "warning",
         "message": {"text": "extra: `extra` is not read by the agent\nfix: remove it; the agent "
                             "reads only version, os, files, permissions, hooks, "
                             "file_exists_behavior"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "appspec.yml"},
                                             "region": {"startLine": 3, "startColumn": 1}}}]},
        {"ruleId": "AK131", "ruleIndex": _index(doc, "AK131"), "level": "error",
         "message": {"text": "hooks > AfterInstall[0] > timeout: expected a positive integer, "
                             "got 0\nfix: write the timeout in whole seconds, e.g. `timeout: "
                             f"300`\nagent says: {TIMEOUT}"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "appspec.yml"},
                                             "region": {"startLine": 7, "startColumn": 16}}}]}]


def test_render_lint_rules_every_code_with_help_and_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    code, doc = _sarif(capsys, "lint", str(tmp_path / "appspec.yml"))
    assert code == 0
    assert doc["runs"][0]["results"] == []
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == {*RULES, *(d.code for d in diagnose_rules.RULES), "verify-failed"}
    ak110 = RULES["AK110"]
    assert rules["AK110"] == {
        "id": "AK110", "name": "version", "shortDescription": {"text": ak110.summary},
        "help": {"text": f"{ak110.summary}. Fix: {ak110.hint}."},
        "helpUri": "https://github.com/agentkit/agentkit/blob/main/docs/rules/AK110.md",
        "defaultConfiguration": {"level": "error"}}
    # a rule whose fix is filled per finding says so instead of showing the template
    assert rules["AK300"]["help"] == {"text": "agent 1.x and 2.x read this differently. The fix "
                                              "depends on the case: each result's message "
                                              "names it."}
    ak800 = diagnose_rules.RULES[0]
    assert rules[ak800.code]["help"] == {"text": f"Cause: {ak800.cause} Fix: {ak800.fix}"}
    assert all(r["helpUri"].endswith(f"/docs/rules/{r['id']}.md")
               for r in rules.values() if r["id"].startswith("AK"))


def test_artifact_uri_relative_kept_absolute_as_file_uri() -> None:
    assert sarif.artifact_uri("deploy/app spec.yml") == "deploy/app%20spec.yml"
    assert sarif.artifact_uri("/srv/a%b/appspec.yml") == "file:///srv/a%25b/appspec.yml"


def test_under_bundle_directory_relative_to_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sarif.under(str(tmp_path / "bundle"), "scripts/a.sh") == "bundle/scripts/a.sh"
    assert sarif.under("", "/elsewhere/appspec.yml") == "/elsewhere/appspec.yml"
    assert sarif.under("", "./appspec.yml") == "appspec.yml"


def test_render_verify_failure_carries_diagnoses(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.chdir(tmp_path)
    result = VerifyResult(
        str(bundle), "1", "directory", "dg-verify", "d-ABCDEFGHI",
        Failure("AfterInstall", "SCRIPT_FAILED", "Script at specified location: scripts/a.sh "
                "failed with exit code 127", "scripts/a.sh", "a.sh: line 2: npm: not found"),
        (EventRun("AfterInstall", "failed", "current"),),
        (Finding(ERROR, "AK513", "scripts/a.sh", 1, None, "CRLF line endings", "run dos2unix"),))
    diagnosis = Diagnosis("AK800", "command-not-found", "AfterInstall", "scripts/a.sh",
                          "`npm` is not on the PATH", "call it by its full path",
                          "a.sh: line 2: npm: not found")
    doc = json.loads(sarif.render_verify(result, (diagnosis,)))
    assert doc["runs"][0]["results"] == [
        {"ruleId": "verify-failed", "ruleIndex": _index(doc, "verify-failed"), "level": "error",
         "message": {"text": "The deployment would fail in AfterInstall (SCRIPT_FAILED): Script "
                             "at specified location: scripts/a.sh failed with exit code 127\n"
                             "AK800 command-not-found: `npm` is not on the PATH\n"
                             "fix: call it by its full path"},
         "locations": [{"physicalLocation": {
             "artifactLocation": {"uri": "bundle/scripts/a.sh"}, "region": {"startLine": 1}}}],
         "properties": {"event": "AfterInstall", "errorCode": "SCRIPT_FAILED",
                        "logTail": "a.sh: line 2: npm: not found",
                        "diagnoses": [{"code": "AK800", "name": "command-not-found",
                                       "event": "AfterInstall", "script": "scripts/a.sh",
                                       "cause": "`npm` is not on the PATH",
                                       "fix": "call it by its full path",
                                       "evidence": "a.sh: line 2: npm: not found",
                                       "helpUri": "https://github.com/agentkit/agentkit/blob/"
                                                  "main/docs/rules/AK800.md"}]}},
        {"ruleId": "AK513", "ruleIndex": _index(doc, "AK513"), "level": "error",
         "message": {"text": "CRLF line endings\nfix: run dos2unix"},
         "locations": [{"physicalLocation": {
             "artifactLocation": {"uri": "bundle/scripts/a.sh"},
             "region": {"startLine": 1}}}]}]


def test_verify_format_sarif_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "app"
    bundle.mkdir()
    (bundle / "appspec.yml").write_text('version: "0.0"\nos: linux\n')
    monkeypatch.chdir(tmp_path)
    code, doc = _sarif(capsys, "verify", "app")
    assert code == 1
    first, second = doc["runs"][0]["results"]
    assert (first["ruleId"], first["locations"]) == (
        "verify-failed", [{"physicalLocation": {"artifactLocation": {"uri": "app/appspec.yml"},
                                                  "region": {"startLine": 1}}}])
    assert first["properties"]["event"] == "BeforeInstall"
    assert (second["ruleId"], second["locations"]) == (
        "AK110", [{"physicalLocation": {"artifactLocation": {"uri": "app/appspec.yml"},
                                        "region": {"startLine": 1, "startColumn": 10}}}])
