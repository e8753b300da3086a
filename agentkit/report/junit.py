"""JUnit XML for Jenkins: one test case per lifecycle event and one per finding code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from agentkit.diagnose.engine import Diagnosis
from agentkit.findings import Finding
from agentkit.verify.result import VerifyResult

TAIL_LINES = 15  # as the text report: what the CodeDeploy console shows of a script's log


def _failure_body(result: VerifyResult, event: str, note: str,
                  diagnoses: tuple[Diagnosis, ...]) -> str:
    """The diagnoses (cause and fix first: what a reader wants), the agent's message, then
    what the console would show for the failing script (the end of its log): the reason
    Jenkins puts on the failed test's page."""
    failure = result.failure
    if failure is None or failure.event != event:
        return note
    body = []
    for d in diagnoses:
        if d.event == event:
            body += [f"{d.code} {d.name}: {d.cause}", f"fix: {d.fix}", f"evidence: {d.evidence}",
                     ""]
    body.append(failure.message)
    if failure.log_tail:
        body += ["", "end of the script's log, as the CodeDeploy console shows it:"]
        body += failure.log_tail.splitlines()[-TAIL_LINES:]
    return "\n".join(body)


def render(result: VerifyResult, diagnoses: tuple[Diagnosis, ...] = ()) -> str:
    suite = ET.Element("testsuite", name=f"agentkit verify {result.archive}")
    cases = 0
    failures = skipped = 0
    for e in result.events:
        case = ET.SubElement(suite, "testcase", classname="lifecycle", name=e.name)
        cases += 1
        if e.status == "failed":
            failures += 1
            ET.SubElement(case, "failure", message=e.note or "failed").text = \
                _failure_body(result, e.name, e.note, diagnoses)
        elif e.status == "skipped":
            skipped += 1
            ET.SubElement(case, "skipped", message=e.note)
    by_code: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_code[f.code].append(f)
    for code, found in sorted(by_code.items()):
        case = ET.SubElement(suite, "testcase", classname="findings", name=code)
        cases += 1
        text = "\n".join(f"{f.path}:{f.line or ''}: {f.message}" for f in found)
        if any(f.is_error for f in found):
            failures += 1
            ET.SubElement(case, "failure", message=found[0].message).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return ET.tostring(suite, encoding="unicode") + "\n"
