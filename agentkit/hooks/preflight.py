"""`agentkit hook preflight`: will this deployment fit? Free disk on the release and the
agent's deployment root against the bundle size, required mounts, users, groups, commands."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from typing import Any

from agentkit import agent_files
from agentkit.errors import HookFailed
from agentkit.hooks import mounts
from agentkit.hooks.config import Config, Preflight, parse_size

AGENT_ROOT = agent_files.DEPLOYMENT_ROOT


def bundle_size(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _existing(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path or "/"


def problems(cfg: Config, bundle_dir: str, agent_root: str = AGENT_ROOT,
             spec: Any = None) -> list[str]:
    p = cfg.preflight or Preflight()
    out = []
    size = bundle_size(bundle_dir) if os.path.isdir(bundle_dir) else 0
    need = parse_size(p.min_free, size)
    for where in filter(None, (cfg.release, agent_root)):
        free = shutil.disk_usage(_existing(where)).free
        if free < need:  # free rounded down, need up: never "only 8 MB free, need 8 MB"
            out.append(f"only {free >> 20} MB free for {where}, need {-(-need >> 20)} MB "
                       f"(min_free {p.min_free} of a {size >> 20} MB bundle)")
    if cfg.shared and not mounts.satisfies(mounts.mount_of(cfg.shared.root),
                                           cfg.shared.require_mount):
        out.append(f"shared.root {cfg.shared.root} is not on a {cfg.shared.require_mount} mount")
    for mp in p.mounts:
        if mounts.mount_of(mp).mountpoint != mp:
            out.append(f"{mp} is not mounted")
    users = set(p.users) | {u for u in (getattr(cfg.shared, "owner", None),
                                        getattr(cfg.health, "owner", None)) if u}
    users |= {r.owner for r in cfg.permissions if r.owner}
    groups_from_spec: set[str] = set()
    if spec is not None:  # the appspec's runas users and permission owners must exist too
        users |= {s.runas for scripts in spec.hooks.values() for s in scripts if s.runas}
        users |= {p.owner for p in spec.permissions if p.owner}
        groups_from_spec = {p.group for p in spec.permissions if p.group}
    for user in sorted(users):
        try:
            pwd.getpwnam(user)
        except KeyError:
            out.append(f"user {user} does not exist")
    groups = set(p.groups) | {r.group for r in cfg.permissions if r.group} | groups_from_spec
    for group in sorted(groups):
        try:
            grp.getgrnam(group)
        except KeyError:
            out.append(f"group {group} does not exist")
    out += [f"command {c} is not on PATH" for c in p.commands if shutil.which(c) is None]
    return out + unwritable(cfg)


def _writes(cfg: Config) -> list[tuple[str, str]]:
    """(directory, action) for what the configured actions create or change."""
    actions = {a for _, acts in cfg.events for a in acts}
    out = []
    if "release" in actions and cfg.releases is not None:
        out += [(cfg.releases.root, "release"),
                (os.path.dirname(cfg.releases.staging.rstrip("/")), "release")]
    if cfg.shared is not None and ("link-shared" in actions or "release" in actions):
        out.append((cfg.shared.root, "link-shared"))
        if cfg.release is not None and "link-shared" in actions:
            out.append((cfg.release, "link-shared"))
    if cfg.health is not None and actions & {"health up", "health down"}:
        out.append((os.path.dirname(cfg.health.file), "health"))
    return out


def _who() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def unwritable(cfg: Config) -> list[str]:
    """What the actions will write that the user they run as may not (the hook's `runas`
    user, a read-only mount): said before Install rather than failing half way."""
    out = []
    for directory, action in dict.fromkeys(_writes(cfg)):
        probe = _existing(directory)
        if not os.access(probe, os.W_OK | os.X_OK, effective_ids=os.access in
                         os.supports_effective_ids):
            why = "read-only" if _read_only(probe) else f"not writable by {_who()}"
            out.append(f"{probe} is {why}, and {action} writes "
                       f"{'there' if probe == directory else f'{directory} in it'}: run "
                       "the hook as root (no runas for it in appspec.yml) or give that user "
                       "write access")
    return out


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def run(cfg: Config, log: Any, dry_run: bool = False, bundle_dir: str | None = None,
        spec: Any = None) -> None:
    bundle = bundle_dir or os.path.dirname(os.path.abspath(cfg.path))
    found = problems(cfg, bundle, spec=spec)
    for problem in found:
        log.error("preflight", problem=problem)
    if found:
        raise HookFailed(f"preflight: {len(found)} problem(s): {'; '.join(found)}")
    log.info("preflight passed")
