"""`agentkit hook health up|down`: the ALB health-check file.

up writes it atomically (a new file under an unguessable name in the same directory, fsync,
rename, fsync of the directory) so the load balancer never reads half a file; down removes
it and can wait until the load balancer has seen enough failed checks to stop sending
traffic. The directory is opened once (safefs.chase) and everything happens relative to it:
a directory swapped for a link, or a link planted at the file's name, is never followed.
Where the directory belongs to another user than root (the application's), the write or
removal runs as that user, so it can do nothing that user could not.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from agentkit.errors import HookFailed
from agentkit.hooks import refusal, users
from agentkit.hooks.config import Config, Health
from agentkit.safefs import chase, drop
from agentkit.safefs.dirfd import Dir, Tampered

PROGRESS_EVERY = 5.0


def _health(cfg: Config) -> Health:
    if cfg.health is None:
        raise HookFailed(f"{cfg.path}: health needs a `health` section with `file`.")
    return cfg.health


def _open(h: Health) -> tuple[Dir, str]:
    try:
        return chase.locate(h.file)
    except FileNotFoundError as exc:
        raise HookFailed(f"health.file {h.file}: directory {exc.filename} does not exist (is "
                         "the release in place?)") from None
    except Tampered as exc:
        raise refusal.failed(f"health.file {h.file}", exc) from None


def _as(directory: Dir, ids: tuple[int, int]) -> tuple[int, int]:
    return drop.acting_owner(directory.stat(), ids)


def _write(directory: Dir, name: str, data: bytes, ids: tuple[int, int]) -> None:
    directory.remove_temporaries(name)  # a killed run's
    directory.write_atomic(name, data, 0o644, ids)


def _remove(directory: Dir, name: str) -> bool:
    existed = directory.lstat(name) is not None
    directory.unlink(name)
    return existed


def up(cfg: Config, log: Any, dry_run: bool = False) -> None:
    h = _health(cfg)
    log.info("health up", file=h.file, dry_run=dry_run)
    if dry_run:
        return
    ids = users.ids(h.owner, h.group, "health.owner/group") if h.owner or h.group \
        else (-1, -1)
    directory, name = _open(h)
    with directory:
        try:
            drop.run_as(*_as(directory, ids), _write, directory, name, h.content.encode(), ids)
        except Tampered as exc:
            raise refusal.failed(f"health.file {h.file}", exc) from None


def present(cfg: Config) -> bool:
    """Whether the health file is there (the load balancer finds it)."""
    h = _health(cfg)
    try:
        directory, name = chase.locate(h.file)
    except FileNotFoundError:
        return False
    except Tampered as exc:
        raise refusal.failed(f"health.file {h.file}", exc) from None
    with directory:
        return directory.lstat(name) is not None


def down(cfg: Config, log: Any, dry_run: bool = False,
         sleep: Callable[[float], None] = time.sleep, drain: bool = True) -> None:
    h = _health(cfg)
    if dry_run:
        log.info("health down", file=h.file, dry_run=dry_run)
        return
    try:
        directory, name = chase.locate(h.file)
    except FileNotFoundError:  # no directory: no file for the load balancer to find
        log.info("health down", file=h.file, existed=False, dry_run=dry_run)
        return
    except Tampered as exc:
        raise refusal.failed(f"health.file {h.file}", exc) from None
    with directory:
        existed = drop.run_as(*_as(directory, (-1, -1)), _remove, directory, name)
    log.info("health down", file=h.file, existed=existed, dry_run=dry_run)
    if drain:
        _drain(h, existed, log, sleep)


def _drain(h: Health, existed: bool, log: Any, sleep: Callable[[float], None]) -> None:
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
