"""Compiler-style text for `agentkit lint`: PATH:LINE:COL: severity CODE: message + fix."""

from __future__ import annotations

from collections.abc import Sequence

from agentkit.appspec.check import LintResult
from agentkit.findings import Finding
from agentkit.report.colour import PLAIN, Paint

_GEN = {"1": "1.x", "2": "2.x"}


def _location(f: Finding) -> str:
    if f.line is None:
        return f.path
    return f"{f.path}:{f.line}:{f.column}" if f.column else f"{f.path}:{f.line}"


def render_finding(f: Finding, paint: Paint = PLAIN) -> str:
    severity = paint(f.severity, "error" if f.is_error else "warning")
    lines = [f"{_location(f)}: {severity} {f.code}: {f.message}"]
    if f.hint:
        lines.append(f"    fix: {f.hint}")
    if f.agent_message:
        lines.append(f"    agent says: {f.agent_message}")
    return "\n".join(lines)


def _counts(findings: Sequence[Finding], appspec: str) -> str:
    """The appspec's own errors and warnings, then those of each other file with findings
    (agentkit.yml, hook scripts), each named: "accepts this appspec (2 error(s))" would send
    the reader to a file without them."""
    by_path: dict[str, list[int]] = {appspec: [0, 0]}
    for f in findings:
        by_path.setdefault(f.path, [0, 0])[0 if f.is_error else 1] += 1
    errors, warnings = by_path.pop(appspec)
    text = f"({errors} error(s), {warnings} warning(s))"
    for path, (e, w) in by_path.items():
        text += f"; {path}: {e} error(s), {w} warning(s)"
    return text


def render(results: Sequence[LintResult], paint: Paint = PLAIN) -> str:
    out: list[str] = []
    errors = warnings = 0
    for r in results:
        out.extend(render_finding(f, paint) for f in r.findings)
        errors += r.errors
        warnings += r.warnings
        verdict = "accepts" if r.agent_verdict == "accepted" else "rejects"
        out.append(f"{r.path}: agent {_GEN[r.generation]} {verdict} this appspec "
                   f"{_counts(r.findings, r.path)}")
    out.append(f"{len(results)} file(s) checked: {errors} error(s), {warnings} warning(s)")
    return "\n".join(out) + "\n"
