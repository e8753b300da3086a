"""`agentkit release list|rollback`: the releases of agentkit.yml's `releases:` on this
instance, by hand or from a hook (hooks/release.py builds and swaps them)."""

from __future__ import annotations

import argparse
from typing import Any

from agentkit import environ, proc
from agentkit.commands.hook import failures, hook_logger
from agentkit.errors import BadConfig, HookFailed
from agentkit.hooks import config as config_mod
from agentkit.hooks import health, release

RESTART_TIMEOUT = 300  # seconds releases.restart may take (a service stop and start)


def _releases(cfg: config_mod.Config) -> config_mod.Releases:
    if cfg.releases is None:
        raise BadConfig(f"{cfg.path}: no `releases` section: this instance's deployments do "
                        "not use the releases layout (docs/hooks.md: releases on the instance).")
    return cfg.releases


def list_releases(cfg: config_mod.Config) -> int:
    r = _releases(cfg)
    found = release.listing(r)
    if not found:
        print(f"no releases in {release.releases_dir(r)}")
        return 0
    print(f"{'release':<24} {'state':<9} {'created':<21} deployment")
    for rel in reversed(found):
        print(f"{rel.id:<24} {rel.state:<9} {rel.revision.get('created') or '?':<21} "
              f"{rel.revision.get('deployment_id') or '-'}")
    return 0


def rollback(cfg: config_mod.Config, to: str | None) -> int:
    r = _releases(cfg)
    log = hook_logger(cfg)
    with release.locked(r, log):
        target = to or release.previous_id(r)
        if target is None:
            raise HookFailed(f"no previous release in {release.releases_dir(r)} to roll back "
                             "to; name one with --to (agentkit release list shows them).")
        if target not in [x.id for x in release.listing(r)]:
            raise HookFailed(f"{target} is not a complete release in "
                             f"{release.releases_dir(r)} (agentkit release list shows them).")
        if release.current_id(r) == target:
            log.info("already current", release=target)
            return 0
        was_up = _health_up(cfg, r)
        release.swap(r, target, log, by="rollback")
        _keep_health(cfg, was_up, log)
    if not r.restart:
        log.warning("no releases.restart is configured: processes that loaded the old "
                    "release keep running it until they are restarted (set releases.restart, "
                    "e.g. [systemctl, restart, app])", release=target)
        return 0
    try:
        done = proc.run(r.restart, env=environ.derived(), timeout=RESTART_TIMEOUT)
    except proc.TimedOut as exc:
        raise HookFailed(f"rolled back to {target} (current points at it), but "
                         f"releases.restart {exc.strerror}; it was stopped. Check the "
                         "service by hand (systemctl status).") from None
    if done.returncode != 0:
        raise HookFailed(f"rolled back to {target} (current points at it), but "
                         f"releases.restart `{' '.join(r.restart)}` exited "
                         f"{done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}")
    log.info("restarted", command=list(r.restart))
    return 0


def _health_up(cfg: config_mod.Config, r: config_mod.Releases) -> bool | None:
    """Whether the health file is there now, when it lives in the current release (so a
    rollback would change it); None when it does not."""
    if cfg.health is None or not cfg.health.file.startswith(release.current_link(r) + "/"):
        return None
    return health.present(cfg)


def _keep_health(cfg: config_mod.Config, was_up: bool | None, log: Any) -> None:
    """The instance stays in or out of the load balancer as it was: the release rolled back
    to had its health file removed by the deployment that replaced it (health down in
    ApplicationStop), and is given it again when the one left had it; likewise it loses it
    when the instance was draining."""
    if was_up is None:
        return
    if was_up:
        health.up(cfg, log)
    else:
        health.down(cfg, log, drain=False)
    log.info("health state kept through the rollback", state="up" if was_up else "down")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(config_mod.find(args.config))
    with failures(f"release {args.action}"):
        if args.action == "list":
            return list_releases(cfg)
        return rollback(cfg, args.to)


