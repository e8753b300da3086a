"""One line of the doctor's report: what was checked, how it came out, and the fix."""

from __future__ import annotations

from typing import Any, NamedTuple

OK, WARN, FAIL = "ok", "warn", "fail"
MARK = {OK: "\u2713", WARN: "!", FAIL: "\u2717"}


class Check(NamedTuple):
    name: str
    status: str  # ok, warn, fail
    detail: str
    fix: str = ""
    lines: tuple[str, ...] = ()  # more to show below it (a failing script's log tail)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix or None, "lines": list(self.lines)}


def ok(name: str, detail: str) -> Check:
    return Check(name, OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, FAIL, detail, fix)
