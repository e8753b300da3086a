"""`agentkit release list|rollback`: the releases of agentkit.yml's `releases:` on this
instance, by hand or from a hook (hooks/release.py builds and swaps them)."""

from __future__ import annotations

import argparse

from agentkit import proc
from agentkit.commands.hook import hook_logger
from agentkit.errors import BadConfig, HookFailed
from agentkit.hooks import config as config_mod
from agentkit.hooks import release


def _releases(cfg: config_mod.Config) -> config_mod.Releases:
    if cfg.releases is None:
        raise BadConfig(f"{cfg.path}: no `releases` section: this instance's deployments do "
                        "not use the releases layout (README: releases on the instance).")
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
        release.swap(r, target, log, by="rollback")
    if r.restart:
        done = proc.run(r.restart, env=proc.env_with(), timeout=300)
        if done.returncode != 0:
            raise HookFailed(f"rolled back to {target} (current points at it), but "
                             f"releases.restart `{' '.join(r.restart)}` exited "
                             f"{done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}")
        log.info("restarted", command=list(r.restart))
    return 0


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(config_mod.find(args.config))
    if args.action == "list":
        return list_releases(cfg)
    return rollback(cfg, args.to)


