"""`agentkit lint --format json`: {"files": [{path, agent_verdict, findings: [...]}]}."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentkit.appspec.check import LintResult


def as_dict(results: Sequence[LintResult]) -> dict[str, Any]:
    return {"files": [{"path": r.path, "agent": r.generation, "agent_verdict": r.agent_verdict,
                       "agent_error": r.agent_error,
                       "findings": [f.to_json() for f in r.findings]} for r in results],
            "errors": sum(r.errors for r in results),
            "warnings": sum(r.warnings for r in results)}


def render(results: Sequence[LintResult]) -> str:
    return json.dumps(as_dict(results), indent=2) + "\n"
