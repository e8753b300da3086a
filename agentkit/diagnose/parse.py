"""What a user pastes, into cases: the console's event log, scripts.log, the agent's log, or
the JSON of `aws deploy get-deployment-instance`, `batch-get-deployment-targets` or
`get-deployment`. Each format is recognised by its own marks; a text that has none of them
gives no case (explain then says what it needs)."""

from __future__ import annotations

import json
import re
from typing import Any

from agentkit.diagnose.case import Case, agent_code, log_lines

_FIELD = re.compile(r"^\s*(error ?code|script ?name|message|log ?tail)\s*[:\t]?\s*(.*)$",
                    re.IGNORECASE)
_AGENT_LOG = re.compile(r"(?:ScriptError|Error during perform: \S+) - (?P<msg>.+?)"
                        r"(?: - /opt/codedeploy-agent/\S+)?$")
_EVENT_LINE = re.compile(r"LifecycleEvent - (\S+)")
_SCRIPT_LINE = re.compile(r"Script - (.+)$")
_AGENT_CODE = re.compile(r"'error_code' ?=> ?(\d)")
_CODES = {"1": "SCRIPT_MISSING", "2": "SCRIPT_EXECUTABILITY", "3": "SCRIPT_TIMED_OUT",
          "4": "SCRIPT_FAILED", "5": "UNKNOWN_ERROR", "6": "OUTPUTS_LEFT_OPEN"}


def cases(text: str) -> list[Case]:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return _json(json.loads(stripped))
        except ValueError:
            pass
    for reader in (_console, _agent_log, _scripts_log, _deployment_message):
        found = reader(text)
        if found:
            return found
    return []


def error_code_of(message: str, given: str = "") -> str:
    if given:
        return agent_code(given)
    if "failed to complete in" in message:
        return "SCRIPT_TIMED_OUT"
    if "failed to close STD" in message:
        return "OUTPUTS_LEFT_OPEN"
    if "does not exist at specified location" in message:
        return "SCRIPT_MISSING"
    return "SCRIPT_FAILED" if "Script at specified location" in message else "UNKNOWN_ERROR"


def _event_in(text: str) -> str:
    found = _EVENT_LINE.findall(text)
    return found[-1] if found else ""


def _console(text: str) -> list[Case]:
    """Error code / Script name / Message / Log tail, as the console's event page shows them
    (one per line, with or without colons), the log tail running to the end."""
    fields: dict[str, str] = {}
    lines = text.splitlines()
    for n, line in enumerate(lines):
        found = _FIELD.match(line)
        if not found:
            continue
        key = found.group(1).lower().replace(" ", "")
        if key == "logtail":
            fields[key] = "\n".join([found.group(2), *lines[n + 1:]]).strip("\n")
            break
        value = found.group(2).strip()
        if not value and n + 1 < len(lines) and not _FIELD.match(lines[n + 1]):
            value = lines[n + 1].strip()  # the console's table: the value on the next line
        fields[key] = value
    if "message" not in fields and "errorcode" not in fields:
        return []
    tail = fields.get("logtail", "")
    message = fields.get("message", "")
    return [Case(_event_in(tail), error_code_of(message, fields.get("errorcode", "")),
                 message, log_lines(tail), fields.get("scriptname") or _script_in(tail))]


def _script_in(text: str) -> str | None:
    found = [m.group(1).strip() for line in text.splitlines()
             for m in [_SCRIPT_LINE.search(line)] if m]
    return found[-1] if found else None


def _agent_log(text: str) -> list[Case]:
    """codedeploy-agent.log: the ERROR line of the failed command."""
    out = []
    for line in text.splitlines():
        if "ERROR" not in line:
            continue
        found = _AGENT_LOG.search(line)
        if not found:
            continue
        message = found.group("msg").strip()
        code = _AGENT_CODE.search(line)
        out.append(Case("", _CODES[code.group(1)] if code else error_code_of(message),
                        message))
    return out[-1:]


def _scripts_log(text: str) -> list[Case]:
    """scripts.log: each script's lines; the last script is the one that failed."""
    if not _EVENT_LINE.search(text):
        return []
    blocks: list[tuple[str, str | None, list[str]]] = []
    event = ""
    for line in text.splitlines():
        ev = _EVENT_LINE.search(line)
        if ev:
            event = ev.group(1)
            continue
        sc = _SCRIPT_LINE.search(line)
        if sc:
            blocks.append((event, sc.group(1).strip(), []))
            continue
        if blocks:
            blocks[-1][2].append(line)
    if not blocks:
        return []
    event, script, body = blocks[-1]
    return [Case(event, "SCRIPT_FAILED", "", log_lines("\n".join(body)), script)]


def _deployment_message(text: str) -> list[Case]:
    if "too many individual instances failed" in text:
        return [Case("", "UNKNOWN_ERROR", text.strip(), deployment=True)]
    return []


def _json(data: Any) -> list[Case]:
    out: list[Case] = []
    for events in _lifecycle_events(data):
        for ev in events:
            diag = ev.get("diagnostics") if isinstance(ev, dict) else None
            if not isinstance(diag, dict) or str(ev.get("status", "")).lower() != "failed":
                continue
            message = str(diag.get("message", ""))
            tail = str(diag.get("logTail", ""))
            out.append(Case(str(ev.get("lifecycleEventName", "")) or _event_in(tail),
                            error_code_of(message, str(diag.get("errorCode", ""))), message,
                            log_lines(tail), str(diag.get("scriptName") or "") or None))
    info = data.get("deploymentInfo") if isinstance(data, dict) else None
    error = info.get("errorInformation") if isinstance(info, dict) else None
    if not out and isinstance(error, dict):
        out.append(Case("", str(error.get("code", "")), str(error.get("message", "")),
                        deployment="too many individual instances" in str(error)))
    return out


def _lifecycle_events(data: Any) -> list[list[Any]]:
    """Every lifecycleEvents list in the document, wherever the API put it."""
    found: list[list[Any]] = []
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "lifecycleEvents" and isinstance(value, list):
                    found.append(value)
                else:
                    todo.append(value)
        elif isinstance(item, list):
            todo.extend(item)
    return found
