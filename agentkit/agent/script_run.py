"""One hook script's run, as the agent's hook_executor.rb reports it: its ScriptError code,
exit code, message and the output it kept. A plain value: the box sends it as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# hook_executor.rb ScriptError codes
SUCCEEDED, SCRIPT_MISSING, SCRIPT_EXECUTABILITY, SCRIPT_TIMED_OUT = (
    "SUCCEEDED", "SCRIPT_MISSING", "SCRIPT_EXECUTABILITY", "SCRIPT_TIMED_OUT")
SCRIPT_FAILED, UNKNOWN_ERROR, OUTPUTS_LEFT_OPEN = (
    "SCRIPT_FAILED", "UNKNOWN_ERROR", "OUTPUTS_LEFT_OPEN")


@dataclass(frozen=True)
class ScriptRun:
    location: str
    runas: str | None
    exit_code: int | None
    duration_s: float
    error_code: str
    message: str
    output: tuple[tuple[str, str], ...] = ()  # the last lines (runner.KEPT_LINES)
    dropped: int = 0  # earlier lines left out of `output` (scripts.log has them)

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "runas": self.runas, "exit_code": self.exit_code,
                "duration_s": round(self.duration_s, 3), "error_code": self.error_code,
                "message": self.message, "output_lines_dropped": self.dropped,
                "output": [{"stream": s, "line": line} for s, line in self.output]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ScriptRun:
        """A ScriptRun as the box sends it (checked: the box runs the bundle's code)."""
        def text(value: Any) -> str:
            if not isinstance(value, str):
                raise ValueError(f"not text: {value!r}")
            return value

        code = raw.get("exit_code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise ValueError(f"not an exit code: {code!r}")
        output = raw.get("output")
        if not isinstance(output, list):
            raise ValueError("no output list")
        runas = raw.get("runas")
        return cls(text(raw.get("location")), None if runas is None else text(runas), code,
                   float(raw.get("duration_s", 0.0)), text(raw.get("error_code")),
                   text(raw.get("message")),
                   tuple((text(o.get("stream")), text(o.get("line"))) for o in output),
                   int(raw.get("output_lines_dropped", 0)))


