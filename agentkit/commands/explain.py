"""`agentkit explain [FILE|-]`: the diagnosis rules over a failure a user pastes."""

from __future__ import annotations

import argparse
import json
import sys

from agentkit.diagnose import parse
from agentkit.diagnose.engine import Diagnosis, diagnose_all
from agentkit.errors import BadInput

LIMIT = 16 << 20  # a log pasted or captured, not a whole disk
NEEDS = ("paste the console's event details (Error code, Script name, Message, Log tail), the "
         "deployment's scripts.log, the ERROR line of codedeploy-agent.log, or the JSON of "
         "`aws deploy get-deployment-instance` / `batch-get-deployment-targets`")


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.buffer.read(LIMIT).decode("utf-8", "replace")
    try:
        with open(source, "rb") as f:
            return f.read(LIMIT).decode("utf-8", "replace")
    except OSError as exc:
        raise BadInput(f"{source}: cannot read it ({exc.strerror}); {NEEDS}.") from None


def render_text(found: list[Diagnosis]) -> str:
    out = []
    for d in found:
        where = ", ".join(x for x in (d.event, d.script) if x)
        out.append(f"{d.code} {d.name}" + (f" ({where})" if where else ""))
        out.append(f"  evidence: {d.evidence}")
        out.append(f"  cause: {d.cause}")
        out.append(f"  fix: {d.fix}")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    text = _read(args.file)
    cases = parse.cases(text)
    found = diagnose_all(cases)
    if args.format == "json":
        print(json.dumps({"diagnoses": [d.to_json() for d in found]}, indent=2))
    elif found:
        sys.stdout.write(render_text(found))
    if found:
        return 0
    what = "no failure was found in it" if not cases else \
        f"no rule fits the failure it shows ({cases[-1].message or 'no message'})"
    print(f"agentkit explain: {what}. To explain a failure, {NEEDS}.", file=sys.stderr)
    return 1
