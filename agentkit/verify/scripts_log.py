"""scripts.log of a deployment, as verify reads and writes it: never through a link a hook
put in the deployment root (beneath.py), never from a FIFO."""

from __future__ import annotations

import os
import re

from agentkit import beneath
from agentkit.agent import runner
from agentkit.agent.layout import Deployment

LOG_KEPT = 1 << 20  # the report keeps this much of the end of scripts.log
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)


def whole(dep: Deployment) -> str:
    """scripts.log for the report: its last LOG_KEPT bytes."""
    try:
        raw, size = beneath.tail_beneath(dep.root, dep.scripts_log, 0, LOG_KEPT)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"[scripts.log not read: {exc.strerror}]\n"
    text = raw.decode("utf-8", "replace")
    if size > len(raw):
        text = f"[... the first {size - len(raw)} bytes of scripts.log are not shown]\n" + \
            text[text.find("\n") + 1:]
    return text


def begin_event(dep: Deployment, name: str) -> tuple[int, str | None]:
    """The event's first line in scripts.log: where the event starts in it, and a note when
    it could not be written."""
    try:
        fd = beneath.open_beneath(dep.root, dep.scripts_log,
                                  os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except OSError as exc:
        return 0, (f"scripts.log could not be written ({exc.strerror}): a hook removed or "
                   "replaced it; verify does not follow links out of its root")
    with os.fdopen(fd, "a", encoding="utf-8") as log:
        runner.log_line(log, f"LifecycleEvent - {name}\n")
        return log.tell(), None


def since(dep: Deployment, start: int) -> str:
    try:
        raw, _ = beneath.tail_beneath(dep.root, dep.scripts_log, start, 1 << 16)
    except OSError:
        return ""
    return raw.decode("utf-8", "replace")


def tail(event_log: str, generation: str) -> str:
    """What the console shows of a failed script: the event's last ~2 KB of log, without
    timestamps for 1.x (hook_executor.rb), with them for 2.x (bounded_fifo_vec.rs)."""
    text = event_log if generation == "2" else _STAMP.sub("", event_log)
    return text[-2048:]
