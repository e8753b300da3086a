"""Text for `agentkit verify`: the events in order, the agent's message, then every finding."""

from __future__ import annotations

from agentkit.diagnose.engine import Diagnosis
from agentkit.report.colour import PLAIN, STATUS_STYLE, Paint
from agentkit.report.lint_text import render_finding
from agentkit.verify.result import VerifyResult

_GEN = {"1": "1.x", "2": "2.x"}


def render(result: VerifyResult, previous: VerifyResult | None = None,
           paint: Paint = PLAIN, diagnoses: tuple[Diagnosis, ...] = ()) -> str:
    out = [f"agentkit verify {result.archive} ({result.bundle_type} bundle, agent "
           f"{_GEN[result.agent]}, group {result.deployment_group_id}, deployment "
           f"{result.deployment_id})"]
    if previous is not None:
        state = "succeeded" if previous.succeeded else f"failed in {previous.failure.event}" \
            if previous.failure else "failed"
        out.append(f"previous revision {previous.archive}: {state}")
    out.extend(f"modelled: {line}" for line in result.modelled)
    for e in result.events:
        where = " (previous revision)" if e.revision == "previous" else ""
        note = f"  {e.note}" if e.note else ""
        status = paint(f"{e.status:<9}", STATUS_STYLE.get(e.status, "bold"))
        out.append(f"  {e.name:<20} {status}{where}{note}")
        for run in e.scripts:
            code = "-" if run.exit_code is None else run.exit_code
            out.append(f"      {run.location}  {run.error_code}  exit {code}  "
                       f"{run.duration_s:.2f} s" + (f"  {run.message}" if run.message else ""))
    out.extend(_services(result, paint))
    for note in result.notes:
        out.append(f"note: {note}")
    if result.failure:
        verdict = paint(f"The deployment would FAIL in {result.failure.event}", "error")
        out.append(f"{verdict} ({result.failure.error_code}): {result.failure.message}")
        if result.failure.log_tail:
            out.append("What the CodeDeploy console would show (end of the script's log):")
            out.extend(f"  | {line}" for line in result.failure.log_tail.splitlines()[-15:])
    else:
        out.append(paint(_success(result), "warning" if result.undetermined else "ok"))
    out.extend(diagnosis_lines(diagnoses, paint))
    if result.findings:
        out.append("")
        out.extend(render_finding(f, paint) for f in result.findings)
    kinds = result.changes.counts()
    out.append("")
    out.append(f"changes outside the deployment root: {kinds.get('created', 0)} created, "
               f"{kinds.get('modified', 0)} modified, {kinds.get('deleted', 0)} deleted")
    errors = result.errors
    warnings = len(result.findings) - errors
    if result.failure:  # the failure is the first error: never "0 error(s)" under a FAIL
        also = f" and {errors} error finding(s)" if errors else ""
        out.append(f"{errors + 1} error(s): the deployment failing in "
                   f"{result.failure.event}{also}, {warnings} warning(s)")
    else:
        out.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(out) + "\n"


def diagnosis_lines(diagnoses: tuple[Diagnosis, ...], paint: Paint = PLAIN) -> list[str]:
    """Under the failure: each diagnosis, its evidence, cause and fix."""
    out = []
    for d in diagnoses:
        where = " ".join(x for x in (d.script, f"({d.event})" if d.event else "") if x)
        out.append(paint(f"{d.code} {d.name}", "bold") + (f": {where}" if where else ""))
        out.append(f"  evidence: {d.evidence}")
        out.append(f"  cause: {d.cause}")
        out.append(f"  fix: {d.fix}")
    return out


def _services(result: VerifyResult, paint: Paint) -> list[str]:
    """Each unit the hooks' systemctl touched: what was asked, its final state, and for one
    that failed the end of its log (what journalctl -u would show)."""
    if not result.services:
        return []
    out = ["services (run by verify's systemctl in the box, as systemd on the instance):"]
    for svc in result.services:
        asked = ", ".join(f"{event or '?'}: {action}" + ("" if res == "done" else f" ({res})")
                          for event, action, res, _code in svc.actions)
        state = paint(f"{svc.state:<9}", STATUS_STYLE.get(
            {"active": "succeeded", "failed": "failed"}.get(svc.state, "skipped"), "bold"))
        enabled = f" {svc.enabled}" if svc.enabled else ""
        out.append(f"  {svc.unit:<24} {state}{enabled}  {asked}")
        if svc.state == "failed" or any(res == "failed" for _e, _a, res, _c in svc.actions):
            out.extend(f"      | {line}" for line in svc.log[-10:])
    return out


def _success(result: VerifyResult) -> str:
    """The verdict of a deployment that does not fail, in one sentence with what it leaves
    out: hooks under names that are not lifecycle events never run (AK132)."""
    never = sorted({f.message.split(":", 1)[0].split(" > ", 1)[-1]
                    for f in result.findings if f.code == "AK132"})
    verdict = "would succeed" if not result.undetermined else \
        f"would not fail in what verify ran ({result.undetermined})"
    if not never:
        return f"The deployment {verdict}."
    names = ", ".join(never)
    return (f"The deployment {verdict}, but the hooks under {names} never run: the service "
            "knows no such lifecycle event (codedeploy-local refuses the appspec at Install "
            "instead).")

