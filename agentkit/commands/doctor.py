"""`agentkit doctor`: check this instance for what a CodeDeploy deployment needs and say,
one line a check, what is wrong and the fix (agentkit/doctor/)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from agentkit.doctor import agent, instance, storage
from agentkit.doctor.result import FAIL, MARK, Check, fail
from agentkit.errors import BadConfig, UsageError
from agentkit.hooks import config as hooks_config


def _endpoints(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or name not in ("codedeploy", "s3") or not url.startswith(("http://",
                                                                             "https://")):
            raise UsageError(f"--endpoint {value!r}: give codedeploy=URL or s3=URL.")
        out[name] = url
    return out


def _bundle_config(root: str, args: argparse.Namespace,
                   found: agent.Agent) -> hooks_config.Config | None:
    """--config, else the agentkit.yml of the newest deployment's archive, if any."""
    path = args.config
    if path is None and found.config is not None:
        base = agent.under(root, found.config.root_dir)
        candidates = []
        for top, dirs, files in os.walk(base):
            if "agentkit.yml" in files and os.path.basename(top) == "deployment-archive":
                candidates.append(os.path.join(top, "agentkit.yml"))
            if top.count(os.sep) - base.count(os.sep) >= 3:
                dirs[:] = []
        # the newest deployment's, by when the agent made its directory (a bundle's files
        # carry the build's times, a reproducible one a fixed date)
        path = max(candidates, key=lambda c: os.path.getmtime(os.path.dirname(
            os.path.dirname(c)))) if candidates else None
    return hooks_config.load(path) if path else None


def checks(args: argparse.Namespace) -> list[Check]:
    root = os.path.abspath(args.root)
    found, config_check = agent.read(root)
    out = [agent.installed(root, found), agent.running(root, found), config_check,
           agent.deployment_root(root, found), agent.last_deployment(root, found)]
    out.append(storage.disk(root, found.config.root_dir if found.config else
                            agent.HOME))
    try:
        cfg = _bundle_config(root, args, found)
    except (BadConfig, OSError) as exc:
        out.append(fail("bundle config", str(exc), "fix the bundle's agentkit.yml (agentkit "
                        "lint checks it in CI)"))
        cfg = None
    if cfg is not None:
        out += storage.shared(root, cfg) + storage.health(root, cfg)
    metadata_checks, meta = instance.imds(args.imds_endpoint)
    out += metadata_checks
    out.append(instance.clock(meta))
    proxy = found.raw.get(":proxy_uri")
    out += instance.endpoints(meta, str(proxy) if proxy else None, _endpoints(args.endpoint))
    return out


def _text(results: list[Check]) -> str:
    lines = []
    for c in results:
        lines.append(f"{MARK[c.status]} {c.name}: {c.detail}")
        if c.fix and c.status != "ok":
            lines.append(f"    fix: {c.fix}")
        lines += [f"    | {line}" for line in c.lines]
    failed = sum(c.status == FAIL for c in results)
    lines.append(f"{failed} problem(s), {sum(c.status == 'warn' for c in results)} warning(s)")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    results = checks(args)
    if args.format == "json":
        json.dump({"checks": [c.to_json() for c in results]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_text(results))
    return 1 if any(c.status == FAIL for c in results) else 0
