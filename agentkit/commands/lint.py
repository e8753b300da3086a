"""`agentkit lint PATH...`: every problem in each appspec, as the selected agent sees it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.locate import locate
from agentkit.report import lint_json, lint_text


def lint_path(path: str, generation: str) -> LintResult:
    located = locate(path, generation)
    if located.source is None:
        assert located.bundle_finding is not None
        f = located.bundle_finding
        return LintResult(f.path, generation, "rejected", f.agent_message, (f,), None)
    result = lint_source(located.source, generation)
    if located.bundle_finding is None:
        return result
    findings = (located.bundle_finding, *result.findings)
    return replace(result, agent_verdict="rejected", findings=findings,
                   agent_error=result.agent_error or located.bundle_finding.agent_message)


def run(args: argparse.Namespace) -> int:
    results = [lint_path(p, args.agent) for p in args.paths]
    renderer = lint_json if args.format == "json" else lint_text
    sys.stdout.write(renderer.render(results))
    failed = any(r.errors for r in results) or (args.strict and any(r.warnings for r in results))
    return 1 if failed else 0
