"""`agentkit hook health up|down`: the ALB health-check file.

up writes it atomically (temp file in the same directory, fsync, rename, fsync the directory)
so the load balancer never reads half a file; down removes it and can wait until the load
balancer has seen enough failed checks to stop sending traffic.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from agentkit.errors import HookFailed
from agentkit.hooks import users
from agentkit.hooks.config import Config, Health

PROGRESS_EVERY = 5.0


def _health(cfg: Config) -> Health:
    if cfg.health is None:
        raise HookFailed(f"{cfg.path}: health needs a `health` section with `file`.")
    return cfg.health


def up(cfg: Config, log: Any, dry_run: bool = False) -> None:
    h = _health(cfg)
    log.info("health up", file=h.file, dry_run=dry_run)
    if dry_run:
        return
    directory = os.path.dirname(h.file)
    if not os.path.isdir(directory):
        raise HookFailed(f"health.file {h.file}: directory {directory} does not exist (is the "
                         "release in place?)")
    prefix = f".{os.path.basename(h.file)}.agentkit-"
    for name in os.listdir(directory):  # temp files of a run that was killed
        stale = os.path.join(directory, name)
        if name.startswith(prefix) and os.path.isfile(stale) and not os.path.islink(stale):
            os.unlink(stale)
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, h.content.encode())
        os.fchmod(fd, 0o644)
        if h.owner or h.group:
            os.fchown(fd, *users.ids(h.owner, h.group, "health.owner/group"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, h.file)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def down(cfg: Config, log: Any, dry_run: bool = False,
         sleep: Callable[[float], None] = time.sleep) -> None:
    h = _health(cfg)
    existed = os.path.lexists(h.file)
    log.info("health down", file=h.file, existed=existed, dry_run=dry_run)
    if dry_run:
        return
    if existed:
        os.unlink(h.file)
    wait = h.drain.seconds if existed else 0.0
    if wait <= 0:
        return
    log.info("waiting for the load balancer to mark this target unhealthy", seconds=wait,
             interval=h.drain.interval, unhealthy_threshold=h.drain.unhealthy_threshold)
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sleep(min(PROGRESS_EVERY, left))
        left = max(deadline - time.monotonic(), 0.0)
        log.info("draining", seconds_left=round(left, 1))
    log.info("drained")
