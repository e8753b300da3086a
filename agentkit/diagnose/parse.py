"""What a user pastes, into cases: the console's event log, scripts.log, the agent's log, or
the JSON of `aws deploy get-deployment-instance`, `batch-get-deployment-targets` or
`get-deployment`. Each format is recognised by its own marks; a text that has none of them
gives no case (explain then says what it needs).

Pasted text varies: Windows line endings, a timestamp before each line (CloudWatch, a CI
job's log), the console's table copied with tabs or as `Field: value`, Markdown from an issue
(`**Error Code**`, code fences), a log tail still JSON-escaped (`\\n`, `\\"`), the payload the
agent sent (`put_host_command_complete(... payload:"{\\"error_code\\":4, ...}")`). `clean`
undoes what it can before the readers look."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import yaml

from agentkit.diagnose.case import CONSOLE_CODES, STAMP, Case, agent_code, log_lines

# a field and its value; not the agent's own `LifecycleEvent - X` line of a log tail
_FIELD = re.compile(r"^\s*(?:- )?(error ?code|script ?name|message|log ?tail|"
                    r"lifecycle ?event(?: ?name)?)(?![a-z])(?!\s+-\s)\s*[:\t]?\s*(.*)$",
                    re.IGNORECASE)
_AGENT_LOG = re.compile(r"(?:ScriptError|Error during perform: [\w:]+) - (?P<msg>.+?)"
                        r"(?: - (?:/opt/codedeploy-agent/(?:lib|vendor)/|[A-Z]:/).*)?$")
_EVENT_LINE = re.compile(r"LifecycleEvent - (\S+)")
_SCRIPT_LINE = re.compile(r"Script - (.+)$")
_AGENT_CODE = re.compile(r"'error_code' ?=> ?(\d)")
_CODES = {"1": "SCRIPT_MISSING", "2": "SCRIPT_EXECUTABILITY", "3": "SCRIPT_TIMED_OUT",
          "4": "SCRIPT_FAILED", "5": "UNKNOWN_ERROR", "6": "OUTPUTS_LEFT_OPEN"}
_PAYLOAD = re.compile(r'payload:"(?P<json>\{.*?\})"\}')
# the failing event in a CLI tool's table: `✖ [Failed]   Install`, `Install  Failed`
_FAILED_EVENT = re.compile(r"\[?Failed\]?\s+(?P<event>[A-Z][A-Za-z]+)\s*$|"
                           r"^\s*(?P<event2>[A-Z][A-Za-z]+)\s+Failed\s*$")
_CODE_AND_MESSAGE = re.compile(
    r"^\s*(?P<code>" + "|".join(c for c in CONSOLE_CODES if c != "Success") +
    r"|SCRIPT_FAILED|SCRIPT_MISSING|SCRIPT_TIMED_OUT|UNKNOWN_ERROR|OUTPUTS_LEFT_OPEN)"
    r"\s*[:\t ]\s*(?P<msg>\S.*)$")
# the agent's and the service's messages, wherever they stand in a text (free-text reader)
KNOWN_MESSAGES = re.compile(
    r"Script at specified location: .+|Script does not exist at specified location: .+|"
    r"The deployment failed because a specified file already exists at this location: .+|"
    r"The overall deployment failed because too many individual instances failed.*|"
    r"The CodeDeploy agent did not find an AppSpec file.*|"
    r"(?:The )?CodeDeploy agent was not able to receive the lifecycle event.*|"
    r"One or more lifecycle events did not run.*|"
    r"Failing in-progress lifecycle event after an agent restart.*|"
    r"Missing credentials - please check if this instance was started with an IAM instance "
    r"profile.*|No such file or directory @ rb_sysopen - \S+|Error extracting zip archive: \d+.*|"
    r"Destination '[^']+' already exists.*|The disk is \(or was\) full during extraction.*|"
    r"(?:Aws::S3::Errors::)?AccessDenied - Access Denied|Access Denied$")


def cases(text: str) -> list[Case]:
    """The failures the text shows, each with its script named where the message names
    it."""
    return [c if c.script else dataclasses.replace(c, script=_script_of(c.message))
            for c in _read(clean(text))]


def _script_of(message: str) -> str | None:
    found = re.search(r"(?:Script at specified location|Script does not exist at specified "
                      r"location): (\S+?)(?: run as user \S+)? (?:failed|$)", message + " ")
    return found.group(1) if found else None


def _read(text: str) -> list[Case]:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            found = _json(json.loads(stripped))
        except ValueError:
            found = []
        if found:
            return found
    found = _yaml(text)
    if found:
        return found
    for reader in (_console, _payload, _agent_log, _scripts_log, _cli_table,
                   _deployment_message, _free_text):
        found = reader(text)
        if found:
            return found
    return []


def clean(text: str) -> str:
    """Line endings, Markdown, quoting and JSON escapes undone; timestamps kept (the readers
    and log_lines drop them where they stand)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if "\\n" in text and text.count("\n") <= 2:  # a log tail copied out of JSON: one line
        try:
            decoded = json.loads(text.strip())
        except ValueError:
            text = _unescape(text)
        else:
            if isinstance(decoded, str):  # a JSON string, quotes and all
                text = clean(decoded)
    out = []
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            continue  # a Markdown code fence
        line = re.sub(r"^\s*>\s?", "", line)  # a Markdown quote
        line = re.sub(r"\*\*([^*]+)\*\*", r"\1", line)  # **Error Code**
        out.append(line.replace("\u00a0", " "))
    return "\n".join(out)


def _unescape(text: str) -> str:
    """JSON's and Ruby's inspect escapes: \\n, \\t, \\", \\\\ (a literal `\\r` in bash's
    $'npm\\r' survives as backslash-r)."""
    table = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "r": ""}
    return re.sub(r"\\([nt\"\\/r])", lambda m: table[m.group(1)], text)


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


def _unstamped(line: str) -> str:
    return STAMP.sub("", line, count=1)


def _console(text: str) -> list[Case]:
    """Error code / Script name / Message / Log tail, as the console's event page shows them
    (one per line, with or without colons, or the value on the next line), or as the CLI's
    YAML and table output give them (errorCode, logTail, message, scriptName,
    lifecycleEventName, in any order). The log tail runs to the end, or to a field not yet
    seen."""
    fields: dict[str, str] = {}
    lines = [_untabled(_unstamped(line)) for line in text.split("\n")]
    n = 0
    while n < len(lines):
        found = _FIELD.match(lines[n])
        n += 1
        if not found:
            continue
        key = _key(found.group(1))
        if key in fields:
            continue
        if key == "logtail":
            collected = [found.group(2)]
            while n < len(lines):
                later = _FIELD.match(lines[n])
                if later and _key(later.group(1)) not in fields and \
                        _key(later.group(1)) != "logtail":
                    break
                collected.append(lines[n])
                n += 1
            fields[key] = _value("\n".join(collected)).strip("\n")
            continue
        value = _value(found.group(2).strip())
        after = [x for x in lines[n:n + 2] if x.strip()]
        if not value and after and not _FIELD.match(after[0]):
            value = after[0].strip()  # the console's table: the value on the next line
        fields[key] = value
    message = fields.get("message", "")
    if not message and "errorcode" not in fields:
        return []
    code = fields.get("errorcode", "")
    if code and not re.fullmatch(r"[A-Za-z_]+", code):
        return []  # "error code 1" in a script's output is no console field
    if DEPLOYMENT_CODES.fullmatch(code):
        return []  # the deployment's error, not an event's: _deployment_message reads it
    tail = fields.get("logtail", "")
    script = fields.get("scriptname", "")
    event = fields.get("lifecycleevent", "")
    return [Case(event if re.fullmatch(r"[A-Za-z]+", event) else _event_in(tail),
                 error_code_of(message, code), message, log_lines(tail),
                 script if script not in ("", "-") else _script_in(tail))]


def _key(name: str) -> str:
    key = name.lower().replace(" ", "")
    return "lifecycleevent" if key.startswith("lifecycle") else key


def _untabled(line: str) -> str:
    """A row of the CLI's `--output table`: `|||  errorCode |  ScriptFailed  |||`."""
    if not line.lstrip().startswith("|"):
        return line
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return "\t".join(c for c in cells if c and not set(c) <= set("+-"))


def _value(text: str) -> str:
    """A YAML scalar as the CLI prints it: quoted, with JSON's escapes in double quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text.replace("\n", "\\n"))
        except ValueError:
            return text
        return str(decoded)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def _script_in(text: str) -> str | None:
    found = [m.group(1).strip() for line in text.splitlines()
             for m in [_SCRIPT_LINE.search(line)] if m]
    return found[-1] if found else None


def _payload(text: str) -> list[Case]:
    """The agent's report to the service, as its log shows it (put_host_command_complete):
    the error code, script, message and log tail, escaped once more."""
    out = []
    for found in _PAYLOAD.finditer(text):
        try:
            data = json.loads(_unescape_once(found.group("json")))
        except ValueError:
            continue
        if not isinstance(data, dict) or not data.get("message"):
            continue
        log = str(data.get("log", ""))
        out.append(Case(_event_in(log), _CODES.get(str(data.get("error_code")), "UNKNOWN_ERROR"),
                        str(data["message"]), log_lines(log),
                        str(data.get("script_name") or "") or _script_in(log)))
    return out[-1:]


def _unescape_once(text: str) -> str:
    """Ruby's inspect of a JSON string: \\" for ", \\\\ for \\ (one level only)."""
    return re.sub(r'\\(["\\])', r"\1", text)


def _agent_log(text: str) -> list[Case]:
    """codedeploy-agent.log: the ERROR line of the failed command."""
    out = []
    for line in text.split("\n"):
        if "ERROR" not in line:
            continue
        found = _AGENT_LOG.search(line)
        if not found:
            continue
        message = found.group("msg").strip()
        code = _AGENT_CODE.search(line)
        out.append(Case("", _CODES[code.group(1)] if code else error_code_of(message),
                        message, log_lines(text)))
    return out[-1:]


def _scripts_log(text: str) -> list[Case]:
    """scripts.log: each script's lines; the last script is the one that failed."""
    if not _EVENT_LINE.search(text):
        return []
    blocks: list[tuple[str, str | None, list[str]]] = []
    event = ""
    for line in text.split("\n"):
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


def _cli_table(text: str) -> list[Case]:
    """A CLI tool's summary of the instance: the failed event's row, then a row with the
    error code and the message (`UnknownError   The deployment failed because ...`)."""
    event = ""
    for line in text.split("\n"):
        line = _unstamped(line)
        failed = _FAILED_EVENT.search(line)
        if failed:
            event = failed.group("event") or failed.group("event2") or ""
            continue
        found = _CODE_AND_MESSAGE.match(line)
        if found:
            message = found.group("msg").strip()
            return [Case(event, agent_code(found.group("code")), message, log_lines(text))]
    return []


DEPLOYMENT_CODES = re.compile(r"\b(HEALTH_CONSTRAINTS_INVALID|HEALTH_CONSTRAINTS|AGENT_ISSUE|"
                              r"IAM_ROLE_MISSING|IAM_ROLE_PERMISSIONS|NO_INSTANCES)\b")


def _deployment_message(text: str) -> list[Case]:
    """The deployment's own error (get-deployment's errorInformation, the console's
    banner): the summary message, or an error code of the service's."""
    code = DEPLOYMENT_CODES.search(text)
    summary = "too many individual instances failed" in text
    if code is None and not summary:
        return []
    lines = [STAMP.sub("", ln.strip(), count=1) for ln in text.split("\n")]
    # the service's sentence ("The deployment failed because ..."), else the code's line
    message = next((ln for ln in lines if re.match(r"The (?:overall )?deployment", ln)),
                   next((ln for ln in lines if code and code.group(1) in ln), ""))
    if code is not None and code.group(1) not in message:
        message += f" ({code.group(1)})"
    return [Case("", "UNKNOWN_ERROR", message, deployment=True)]


def _free_text(text: str) -> list[Case]:
    """Any text that holds one of the agent's or the service's messages: the last one is
    the failure; the text's lines are its output."""
    hits = [m.group(0).strip() for line in text.split("\n")
            for m in [KNOWN_MESSAGES.search(_unstamped(line))] if m]
    if not hits:
        lines = log_lines(text)
        # output alone, with no message: the script's lines still tell (a paste of the tail)
        return [Case(_event_in(text), "SCRIPT_FAILED", "", lines)] if any(
            "[stderr]" in line or "[stdout]" in line for line in text.split("\n")) else []
    message = re.sub(r"\s*\(Error code: \w+\)$", "", hits[-1])
    return [Case(_event_in(text), error_code_of(message), message, log_lines(text),
                 _script_in(text))]


_YAML_KEYS = re.compile(r"^\s*(?:instanceSummary|instanceTarget|deploymentTargets|"
                        r"deploymentInfo|lifecycleEvents):", re.MULTILINE)


def _yaml(text: str) -> list[Case]:
    """The CLI's `--output yaml` of get-deployment-instance, batch-get-deployment-targets or
    get-deployment: the same document as its JSON."""
    if not _YAML_KEYS.search(text):
        return []
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    return _json(data) if isinstance(data, (dict, list)) else []


def _json(data: Any) -> list[Case]:
    out: list[Case] = []
    for events in _lifecycle_events(data):
        for ev in events:
            diag = ev.get("diagnostics") if isinstance(ev, dict) else None
            if not isinstance(diag, dict) or str(ev.get("status", "")).lower() != "failed":
                continue
            message = str(diag.get("message", ""))
            tail = clean(str(diag.get("logTail", "")))
            out.append(Case(str(ev.get("lifecycleEventName", "")) or _event_in(tail),
                            error_code_of(message, str(diag.get("errorCode", ""))), message,
                            log_lines(tail), str(diag.get("scriptName") or "") or None))
    info = data.get("deploymentInfo") if isinstance(data, dict) else None
    error = info.get("errorInformation") if isinstance(info, dict) else None
    if not out and isinstance(error, dict):
        code, message = str(error.get("code", "")), str(error.get("message", ""))
        service = DEPLOYMENT_CODES.fullmatch(code) is not None
        out.append(Case("", code, message + (f" ({code})" if service else ""),
                        deployment=service or "too many individual instances" in message))
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
