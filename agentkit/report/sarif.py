"""`--format sarif` for lint and verify: SARIF 2.1.0 (OASIS, sarif-v2.1.0-os), what GitHub's
code scanning (github/codeql-action/upload-sarif) and other viewers read.

Every rule is in tool.driver.rules (appspec findings and diagnoses, with their fix and the
page of the docs), so a viewer shows the help of a result without agentkit installed. A
result is a finding at its file, line and column; verify adds one for the deployment's
failure, whose diagnoses (cause, fix, evidence) are in its properties."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from agentkit import __version__
from agentkit.appspec.check import LintResult
from agentkit.appspec.rules import RULES
from agentkit.diagnose import rules as diagnose_rules
from agentkit.diagnose.engine import Diagnosis
from agentkit.findings import Finding
from agentkit.verify.result import Failure, VerifyResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HOME = "https://github.com/agentkit/agentkit"
DOCS = f"{HOME}/blob/main/docs/rules"
# verify's failure is not a finding of the rules data: a rule of its own, documented in the
# README's verify section
FAILED = "verify-failed"
_LEVEL = {"error": "error", "warning": "warning"}


def rule_uri(code: str) -> str:
    """The docs page of a finding code (one page per code: docs/rules/AKNNN.md)."""
    return f"{DOCS}/{code}.md"


def _help(summary: str, hint: str) -> str:
    """The help of a rule; a hint that is a template ({fix}) is filled per result, so the
    rule says where to read it."""
    if "{" in hint:
        return f"{summary}. The fix depends on the case: each result's message names it."
    return f"{summary}. Fix: {hint}."


def _rules() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in sorted(RULES.values(), key=lambda r: r.code):
        out.append({"id": r.code, "name": r.name, "shortDescription": {"text": r.summary},
                    "help": {"text": _help(r.summary, r.hint)}, "helpUri": rule_uri(r.code),
                    "defaultConfiguration": {"level": _LEVEL[r.severity]}})
    for d in diagnose_rules.RULES:
        out.append({"id": d.code, "name": d.name,
                    "shortDescription": {"text": f"diagnosis of a failed deployment: {d.name}"},
                    "help": {"text": f"Cause: {d.cause} Fix: {d.fix}"},
                    "helpUri": rule_uri(d.code),
                    "defaultConfiguration": {"level": "error"}})
    out.append({"id": FAILED, "name": "deployment-failed",
                "shortDescription": {"text": "the deployment of this revision would fail"},
                "help": {"text": "verify ran the agent's lifecycle on the revision and an event "
                                 "failed: the result names the event, the agent's message and "
                                 "the diagnoses (cause and fix) that fit it."},
                "helpUri": f"{HOME}#verify", "defaultConfiguration": {"level": "error"}})
    return out


def artifact_uri(path: str) -> str:
    """A file's URI: relative paths stay relative (to the directory the command ran in, as
    code scanning expects them relative to the checkout); absolute ones are file: URIs."""
    quoted = urllib.parse.quote(path.replace(os.sep, "/"), safe="/")
    return f"file://{quoted}" if path.startswith("/") else quoted


def _location(path: str, line: int | None, column: int | None) -> dict[str, Any]:
    # a finding about a whole file (a script's mode, the failure) is shown at its first line:
    # viewers and the SARIF Multitool (SARIF2017) want a region on every location
    region: dict[str, Any] = {"startLine": line or 1}
    if line and column:
        region["startColumn"] = column
    return {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)},
                                 "region": region}}


def finding_text(f: Finding) -> str:
    """A finding in words: what, the fix, and what the agent itself says."""
    text = f.message
    if f.hint:
        text += f"\nfix: {f.hint}"
    if f.agent_message:
        text += f"\nagent says: {f.agent_message}"
    return text


def _finding(f: Finding, index: dict[str, int], base: str = "") -> dict[str, Any]:
    return {"ruleId": f.code, "ruleIndex": index[f.code], "level": _LEVEL[f.severity],
            "message": {"text": finding_text(f)},
            "locations": [_location(under(base, f.path), f.line, f.column)]}


def under(base: str, path: str) -> str:
    """A path of the bundle as the repository has it, when the bundle is a directory; a
    path below the working directory relative to it (code scanning and annotations place
    files relative to the checkout, where the workflow runs)."""
    if base and not os.path.isabs(path):
        path = os.path.join(base, path)
    if os.path.isabs(path):
        cwd = os.getcwd()
        if path.startswith(cwd.rstrip("/") + "/"):
            return os.path.relpath(path, cwd)
        return path
    return os.path.normpath(path)


def _log(results: list[dict[str, Any]], rules: list[dict[str, Any]]) -> str:
    doc = {"$schema": SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "agentkit", "version": __version__,
                                         "informationUri": HOME, "rules": rules}},
                     "columnKind": "unicodeCodePoints", "results": results}]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _index(rules: Iterable[dict[str, Any]]) -> dict[str, int]:
    return {r["id"]: i for i, r in enumerate(rules)}


def render_lint(results: Sequence[LintResult]) -> str:
    rules = _rules()
    index = _index(rules)
    return _log([_finding(f, index) for r in results for f in r.findings], rules)


def failure_text(failure: Failure, diagnoses: tuple[Diagnosis, ...]) -> str:
    """The failure in words, each diagnosis's cause and fix after it."""
    text = (f"The deployment would fail in {failure.event} ({failure.error_code}): "
            f"{failure.message}")
    for d in diagnoses:
        text += f"\n{d.code} {d.name}: {d.cause}\nfix: {d.fix}"
    return text


def _failure(result: VerifyResult, base: str, diagnoses: tuple[Diagnosis, ...],
             index: dict[str, int]) -> dict[str, Any]:
    failure = result.failure
    assert failure is not None
    text = failure_text(failure, diagnoses)
    # the failing script where there is one (a path of the bundle), else the appspec
    where = failure.script if failure.script else "appspec.yml"
    return {"ruleId": FAILED, "ruleIndex": index[FAILED], "level": "error",
            "message": {"text": text}, "locations": [_location(under(base, where), None, None)],
            "properties": {"event": failure.event, "errorCode": failure.error_code,
                           "logTail": failure.log_tail,
                           "diagnoses": [{"code": d.code, "name": d.name, "event": d.event,
                                          "script": d.script, "cause": d.cause, "fix": d.fix,
                                          "evidence": d.evidence, "helpUri": rule_uri(d.code)}
                                         for d in diagnoses]}}


def render_verify(result: VerifyResult, diagnoses: tuple[Diagnosis, ...] = ()) -> str:
    """The findings and the failure; paths of a bundle directory are given under it (as
    the repository holds them), those of an archive as the archive holds them."""
    rules = _rules()
    index = _index(rules)
    base = result.archive if os.path.isdir(result.archive) else ""
    out = [_finding(f, index, base) for f in result.findings]
    if result.failure is not None:
        out.insert(0, _failure(result, base, diagnoses, index))
    return _log(out, rules)
