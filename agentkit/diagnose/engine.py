"""Which rules fit a case, each with its evidence and its texts filled in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentkit.diagnose import packages
from agentkit.diagnose.case import Case
from agentkit.diagnose.rules import RULES, Rule


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    event: str
    script: str | None
    cause: str
    fix: str
    evidence: str  # the line of output, or the agent's message, it rests on

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "event": self.event, "script": self.script,
                "cause": self.cause, "fix": self.fix, "evidence": self.evidence}


GENERIC_INSTALL = ("If a login shell cannot find it either, the AMI lacks it: install its "
                   "package in the AMI or in a BeforeInstall hook.")


class _Fields(dict):  # type: ignore[type-arg]
    """Template fields; one a rule's evidence did not give reads as the script."""

    def __missing__(self, key: str) -> str:
        return str(self.get("script", "the script"))


def _match(rule: Rule, case: Case) -> tuple[dict[str, str], str] | None:
    """The fields and the evidence when every condition of the rule holds."""
    if rule.deployment != case.deployment:
        return None
    if (rule.events and case.event not in rule.events) or case.event in rule.not_events or \
            (rule.error_codes and case.error_code not in rule.error_codes) or \
            (rule.in_verify is not None and rule.in_verify != case.in_verify):
        return None
    # an exit code not recorded (scripts.log keeps none): the rule's line must then hold
    line_needed = False
    if rule.exit_codes and case.code not in rule.exit_codes:
        if case.code is not None or rule.line is None:
            return None
        line_needed = True
    fields: dict[str, str] = {}
    evidence = ""
    message = rule.compiled("message")
    if message is not None:
        found = message.search(case.message)
        if found is None:
            return None
        fields.update({k: v for k, v in found.groupdict().items() if v is not None})
        evidence = case.message
    unless = rule.compiled("unless_line")
    if unless is not None and any(unless.search(line) for line in case.lines):
        return None
    line = rule.compiled("line")
    if line is not None:
        hit = next(((m, text) for text in case.lines for m in [line.search(text)] if m), None)
        if hit is not None:
            fields.update({k: v for k, v in hit[0].groupdict().items() if v is not None})
            evidence = hit[1].strip()
        elif line_needed or not rule.line_optional:
            return None
    return fields, evidence or case.message


def diagnose(case: Case) -> list[Diagnosis]:
    out = []
    for rule in RULES:
        matched = _match(rule, case)
        if matched is None:
            continue
        fields, evidence = matched
        if "command" in fields:  # AK800: the package, when the image or the table knows it
            fields["install"] = packages.advice(fields["command"], case.image) or GENERIC_INSTALL
        values = _Fields(script=case.script or "the script", event=case.event or "the event",
                         user=case.user or "root", code=str(case.code), **fields)
        out.append(Diagnosis(rule.code, rule.name, case.event, case.script,
                             rule.cause.format_map(values), rule.fix.format_map(values),
                             evidence))
    return out


def diagnose_all(cases: Iterable[Case]) -> list[Diagnosis]:
    """Every case's diagnoses, each (code, script, evidence) once."""
    seen, out = set(), []
    for case in cases:
        for d in diagnose(case):
            key = (d.code, d.event, d.script, d.evidence)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return out
