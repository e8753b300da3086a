"""`agentkit hook validate`: is the service really up? HTTP checks with retries and a deadline,
processes by name, listening ports. Each try is logged; the last line says what failed (the
CodeDeploy console shows only the last ~2 KB of a script's output)."""

from __future__ import annotations

import re
import time
from typing import Any

from agentkit.errors import HookFailed
from agentkit.hooks.config import Config, Validate


def _http_once(v: Validate) -> str | None:
    """None when the URL answers as expected, else what was wrong."""
    import requests

    assert v.url is not None
    try:
        resp = requests.get(v.url, timeout=v.timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    if resp.status_code not in v.status:
        return f"status {resp.status_code}, expected {'/'.join(map(str, v.status))}"
    for name, pattern in v.headers:
        value = resp.headers.get(name)
        if value is None or not re.search(pattern, value):
            return f"header {name}: {value!r} does not match {pattern!r}"
    if v.body is not None and not re.search(v.body, resp.text):
        return f"body does not match {v.body!r} (first 80 chars: {resp.text[:80]!r})"
    return None


def _processes_once(v: Validate) -> str | None:
    import psutil

    running = {p.info["name"] for p in psutil.process_iter(["name"])}
    missing = [name for name in v.processes if name not in running]
    if missing:
        return f"process not running: {', '.join(missing)}"
    if v.ports:
        listening = {c.laddr.port for c in psutil.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr}
        closed = [str(p) for p in v.ports if p not in listening]
        if closed:
            return f"nothing listens on port {', '.join(closed)}"
    return None


def run(cfg: Config, log: Any, dry_run: bool = False) -> None:
    v = cfg.validate
    if v is None:
        raise HookFailed(f"{cfg.path}: validate needs a `validate` section.")
    if dry_run:
        log.info("validate", url=v.url, processes=list(v.processes), ports=list(v.ports),
                 dry_run=True)
        return
    start = time.monotonic()
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        problem = _processes_once(v) if (v.processes or v.ports) else None
        if problem is None and v.url:
            problem = _http_once(v)
        elapsed = time.monotonic() - start
        if problem is None:
            log.info("validate passed", attempt=attempt, seconds=round(elapsed, 2))
            return
        log.info("validate try failed", attempt=attempt, problem=problem)
        # The last try must be able to finish (its own timeout) before the deadline.
        room = v.deadline - v.timeout - elapsed
        if room <= 0:
            raise HookFailed(f"validate failed after {attempt} tries in {elapsed:.1f} s: "
                             f"{problem}")
        time.sleep(min(delay, room))
        delay = min(delay * 2, 10.0)
