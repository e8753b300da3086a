"""The plain values a box's `run` request carries, and the job handler that runs them.

The box is a mechanism: it does not know what a job is. A job and its result are JSON objects
decided by whoever hands the box its handler, named in the Spec as "module:function" and
imported by pid 1 before it loses the host's files (stage.py). The agent model's handler is
agentkit.agent.runner:run_jobs.
"""

from __future__ import annotations

import importlib
from typing import IO, Any, Callable

Job = dict[str, Any]  # what the handler is given, as verify sent it
Result = dict[str, Any]  # what it answers per job, sent back as is
# (jobs, scripts.log open for appending, bytes the log may grow by) -> one result per job run
JobHandler = Callable[[list[Job], IO[str], int], list[Result]]


def load_handler(name: str) -> JobHandler | None:
    """The function `name` ("package.module:function") names; None for no name."""
    if not name:
        return None
    module, _, function = name.partition(":")
    handler: JobHandler = getattr(importlib.import_module(module), function)
    return handler


def results(raw: object) -> list[Result]:
    """A `ran` answer's results, checked to be what the wire carries: a list of objects."""
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValueError("results are not a list of objects")
    return raw
