"""What the services the hooks ran in the box say about the deployment (AK700-AK703), and
the notes on what the box's service manager did not model.

Judged from each unit's record (agentkit/systemd/services.py): the actions asked of it by event,
its state when the deployment ended, and what it listened on as ValidateService began and at
the end. The agent itself knows nothing of services: it runs ValidateService as soon as
ApplicationStart's scripts exit (hook_executor.rb runs one event's scripts, then the next
event's), so whatever a service still has to do by then is a race on the instance.
"""

from __future__ import annotations

import re

from agentkit.appspec.model import AppSpec
from agentkit.appspec.rules import RULES
from agentkit.findings import Finding
from agentkit.verify.result import Service

STARTING = frozenset({"start", "restart", "try-restart", "condrestart", "force-reload",
                      "reload-or-restart", "try-reload-or-restart", "enable --now"})


def _finding(code: str, path: str, message: str) -> Finding:
    rule = RULES[code]
    return Finding(rule.severity, code, path, None, None, message, rule.hint)


def _started(svc: Service) -> list[str]:
    """The events in which a hook started (or restarted) the unit successfully."""
    return [event for event, action, result, _ in svc.actions
            if action in STARTING and result == "done"]


def enabled_not_started(svc: Service) -> Finding | None:
    enabled = [e for e, a, r, _ in svc.actions if a == "enable" and r == "done"]
    if not enabled or _started(svc) or svc.state == "active":
        return None
    return _finding("AK700", svc.unit, f"{enabled[0]} enables {svc.unit} but no hook starts "
                    "it: the instance runs it only after its next boot")


def unit_missing(svc: Service, image: str) -> Finding | None:
    asked = [(e, a) for e, a, r, _ in svc.actions if r == "unit not found"]
    if not asked:
        return None
    event, action = asked[0]
    where = f"the image {image}" if image else "this machine (the instance's stand-in)"
    return _finding("AK701", svc.unit, f"{event or 'a hook'}: `systemctl {action} {svc.unit}`"
                    f": {where} has no unit {svc.unit} (systemctl exits 5)")


# What a ValidateService script that waits for the service by itself looks like: curl's or
# wget's own retries, a loop, `timeout`, a wait-for script, or agentkit's validate (which
# retries within a deadline). Such a check does not race the service's start.
RETRIES = re.compile(r"--retry|--tries|\b(?:while|until|for)\b|\btimeout\s+\d|wait-for|"
                     r"\bagentkit\b[^\n]*\bhook\b")


def still_starting(svc: Service, validate_retries: bool = False) -> Finding | None:
    before = svc.listening_at_validate
    if before is None or before or not svc.listening or validate_retries:
        return None
    started = _started(svc)
    if not started or "ValidateService" in started:
        return None  # ValidateService (re)started it itself: it waits as it likes
    return _finding("AK703", svc.unit, f"{svc.unit} (started in {started[-1]}) was not yet "
                    f"listening when ValidateService began; it listened on "
                    f"{', '.join(svc.listening)} later. The agent does not wait for it: a "
                    "check that runs at once can fail on the instance")


def no_validate_service(services: tuple[Service, ...], spec: AppSpec | None,
                        events: tuple[str, ...], appspec_name: str) -> Finding | None:
    started = [s.unit for s in services if _started(s)]
    if not started or spec is None or "ValidateService" not in events or \
            spec.hooks.get("ValidateService"):
        return None
    return _finding("AK702", appspec_name, f"hooks start {', '.join(started)} but "
                    "ValidateService runs no script: the deployment succeeds whether "
                    f"{'it serves' if len(started) == 1 else 'they serve'} or not")


def findings(services: tuple[Service, ...], spec: AppSpec | None, events: tuple[str, ...],
             appspec_name: str, image: str, validate_texts: tuple[str, ...] = ()
             ) -> list[Finding]:
    """`validate_texts`: the ValidateService scripts (a check that retries by itself does
    not race the service: no AK703)."""
    retries = any(RETRIES.search(text) for text in validate_texts)
    out = [f for svc in services
           for f in (enabled_not_started(svc), unit_missing(svc, image),
                     still_starting(svc, retries))
           if f is not None]
    missing = no_validate_service(services, spec, events, appspec_name)
    return out + ([missing] if missing else [])


def notes(services: tuple[Service, ...]) -> list[str]:
    """What the box did not model, where a hook relied on it."""
    out = []
    for svc in services:
        unmodelled = sorted({a for _, a, r, _ in svc.actions if r == "not modelled"})
        if unmodelled:
            out.append(f"{svc.unit}: `systemctl {', '.join(unmodelled)}` is not modelled in "
                       "the box: it succeeded there and did nothing")
        if svc.ignored:
            out.append(f"{svc.unit}: the box ignores {', '.join(s + '=' for s in svc.ignored)}"
                       " (not modelled: the service runs without them)")
    return out
