"""`--format github`: GitHub Actions workflow commands, one `::error` or `::warning` per
finding, which the runner turns into annotations on the pull request's lines:
`::error file=appspec.yml,line=2,col=10,title=AK110::message`.

The escaping is GitHub's toolkit's (actions/toolkit packages/core/src/command.ts,
escapeData and escapeProperty): in the message %, CR and LF are percent-encoded, in a
property also `:` and `,` (which separate properties). The runner undoes it
(actions/runner src/Runner.Common/ActionCommand.cs), so any text arrives as written."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from collections.abc import Sequence
from typing import Any

from agentkit.appspec.check import LintResult
from agentkit.diagnose.engine import Diagnosis
from agentkit.findings import Finding
from agentkit.report import sarif
from agentkit.verify.result import VerifyResult


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: Sequence[tuple[str, str]], message: str) -> str:
    """One workflow command line: ::name key=value,key=value::message."""
    props = ",".join(f"{k}={escape_property(v)}" for k, v in properties)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def _where(path: str, line: int | None, column: int | None) -> list[tuple[str, str]]:
    """A finding about a whole file at its first line, as in the SARIF (sarif._location)."""
    props = [("file", path), ("line", str(line or 1))]
    if line and column:
        props.append(("col", str(column)))
    return props


def annotate(f: Finding, base: str = "") -> str:
    where = _where(sarif.under(base, f.path), f.line, f.column)
    return command(f.severity, [*where, ("title", f.code)], sarif.finding_text(f))


def render_lint(results: Sequence[LintResult]) -> str:
    """The annotations, then the summary as plain log lines (the runner shows them as
    they are)."""
    out = [annotate(f) for r in results for f in r.findings]
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    out.append(f"{len(results)} file(s) checked: {errors} error(s), {warnings} warning(s)")
    return "\n".join(out) + "\n"


def render_verify(result: VerifyResult, diagnoses: tuple[Diagnosis, ...] = ()) -> str:
    """The failure (with its diagnoses) on the failing script, then each finding; paths of a
    bundle directory under it, as the repository holds them."""
    base = result.archive if os.path.isdir(result.archive) else ""
    out = []
    failure = result.failure
    if failure is not None:
        where = failure.script if failure.script else "appspec.yml"
        path = sarif.under(base, where)
        out.append(command("error", [*_where(path, None, None),
                                     ("title", f"deployment fails in {failure.event}")],
                            sarif.failure_text(failure, diagnoses)))
    out.extend(annotate(f, base) for f in result.findings)
    errors = result.errors + (1 if failure else 0)
    warnings = len(result.findings) - result.errors
    verdict = f"fails in {failure.event}" if failure else \
        f"undetermined ({result.undetermined})" if result.undetermined else "succeeds"
    out.append(f"agentkit verify {result.archive}: the deployment {verdict}; "
               f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(out) + "\n"


def from_sarif(doc: dict[str, Any]) -> str:
    """The annotations of a SARIF log agentkit wrote: the action runs verify once, for its
    SARIF, and annotates the pull request from that file (the same lines --format github
    gives), instead of running the deployment twice."""
    out = []
    counts = {"error": 0, "warning": 0}
    for run in doc.get("runs", []):
        for res in run.get("results", []):
            level = res.get("level", "warning")
            counts[level] = counts.get(level, 0) + 1
            props: list[tuple[str, str]] = []
            for loc in res.get("locations", [])[:1]:
                physical = loc.get("physicalLocation", {})
                uri = physical.get("artifactLocation", {}).get("uri", "")
                path = urllib.parse.unquote(uri[len("file://"):] if uri.startswith("file://")
                                            else uri)
                region = physical.get("region", {})
                props = _where(path, region.get("startLine"), region.get("startColumn"))
            event = res.get("properties", {}).get("event")
            title = f"deployment fails in {event}" if res.get("ruleId") == sarif.FAILED \
                else str(res.get("ruleId", "agentkit"))
            name = {"error": "error", "warning": "warning"}.get(level, "notice")
            out.append(command(name, [*props, ("title", title)], res["message"]["text"]))
    out.append(f"agentkit: {counts['error']} error(s), {counts['warning']} warning(s)")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str]) -> int:
    """python -m agentkit.report.github FILE.sarif: its annotations on standard output."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m agentkit.report.github FILE.sarif\n")
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{argv[0]}: not a SARIF file agentkit can read ({exc}); give the "
                         "file `agentkit lint|verify --format sarif` wrote.\n")
        return 1
    sys.stdout.write(from_sarif(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
