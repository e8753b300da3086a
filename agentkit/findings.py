"""A finding is data: code, severity, where, what, how to fix, and what the agent itself says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    path: str
    line: int | None
    column: int | None
    message: str
    hint: str
    agent_message: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line or 0, self.column or 0, self.code)

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "path": self.path,
                "line": self.line, "column": self.column, "message": self.message,
                "hint": self.hint, "agent_message": self.agent_message}
