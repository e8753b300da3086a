"""`Case`: what one failed script (or Install, or the download) left behind."""

from __future__ import annotations

import re
from dataclasses import dataclass

# the console's and the API's names of the agent's error codes (hook_executor.rb ScriptError)
CONSOLE_CODES = {
    "ScriptFailed": "SCRIPT_FAILED", "ScriptMissing": "SCRIPT_MISSING",
    "ScriptNotExecutable": "SCRIPT_EXECUTABILITY", "ScriptTimedOut": "SCRIPT_TIMED_OUT",
    "UnknownError": "UNKNOWN_ERROR", "OutputsLeftOpen": "OUTPUTS_LEFT_OPEN",
    "Success": "SUCCEEDED",
}
_EXIT = re.compile(r"failed with exit code (\d+)")
_RUNAS = re.compile(r" run as user (\S+) failed")


@dataclass(frozen=True)
class Case:
    event: str  # the lifecycle event ("" when not known)
    error_code: str  # SCRIPT_FAILED ... or UNKNOWN_ERROR for Install and the download
    message: str  # the agent's message
    lines: tuple[str, ...] = ()  # the script's output (or the log tail), oldest first
    script: str | None = None
    exit_code: int | None = None
    revision: str = "current"  # previous: the last successful revision's scripts
    runas: str | None = None
    in_verify: bool = False  # run in verify's box (no network unless asked, no AMI)
    deployment: bool = False  # a deployment-level message, not one instance's
    image: str = ""  # the instance's root file system verify ran against (--image), if any

    @property
    def code(self) -> int | None:
        """The exit code, from the message where it was not recorded."""
        if self.exit_code is not None:
            return self.exit_code
        found = _EXIT.search(self.message)
        return int(found.group(1)) if found else None

    @property
    def user(self) -> str | None:
        if self.runas:
            return self.runas
        found = _RUNAS.search(self.message)
        return found.group(1) if found else None


def agent_code(text: str) -> str:
    """SCRIPT_FAILED for ScriptFailed (the console's word) or SCRIPT_FAILED itself."""
    text = text.strip()
    return CONSOLE_CODES.get(text, text.upper() if text else "UNKNOWN_ERROR")


# a timestamp before a line: scripts.log's, the agent log's, ISO 8601 from CloudWatch or CI
# (one or more: a CI log's stamp before scripts.log's own)
STAMP = re.compile(r"^(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
                   r"\]?\s+)+")


def log_lines(tail: str) -> tuple[str, ...]:
    """The lines of a log tail or scripts.log, without timestamps and stream prefixes; the
    agent's own `LifecycleEvent - X` and `Script - Y` lines and blank lines left out."""
    out = []
    for raw in tail.splitlines():
        line = STAMP.sub("", raw.rstrip("\r"), count=1).rstrip()
        if not line.strip() or re.match(r"^\s*(LifecycleEvent|Script) - ", line):
            continue
        out.append(re.sub(r"^\s*\[(stdout|stderr)\]", "", line))
    return tuple(out)
