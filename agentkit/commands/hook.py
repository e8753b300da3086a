"""`agentkit hook ACTION`: the on-instance actions, alone or as LIFECYCLE_EVENT asks (`run`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any

import structlog

from agentkit import log as logging_setup
from agentkit.errors import BadConfig
from agentkit.hooks import config as config_mod

CONTEXT = ("LIFECYCLE_EVENT", "DEPLOYMENT_ID", "DEPLOYMENT_GROUP_NAME")


def _open_log(path: str) -> IO[str] | None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        print(f"agentkit: warning: cannot write the hook log {path} ({exc.strerror}); "
              "logging to stdout only", file=sys.stderr)
        return None


def _logger(cfg: config_mod.Config) -> Any:
    logging_setup.configure(sys.stdout, json_lines=False, json_file=_open_log(cfg.log_file))
    structlog.contextvars.bind_contextvars(
        **{k.lower(): os.environ[k] for k in CONTEXT if k in os.environ})
    return logging_setup.get("agentkit.hook")


def _action(name: str, cfg: config_mod.Config, log: Any, dry_run: bool) -> None:
    if name == "link-shared":
        from agentkit.hooks import link_shared
        link_shared.run(cfg, log, dry_run)
    elif name == "permissions":
        from agentkit.hooks import permissions
        permissions.run(cfg, log, dry_run)
    elif name in ("health up", "health down"):
        from agentkit.hooks import health
        (health.up if name == "health up" else health.down)(cfg, log, dry_run)
    elif name == "validate":
        from agentkit.hooks import validate
        validate.run(cfg, log, dry_run)
    elif name == "preflight":
        from agentkit.hooks import preflight
        preflight.run(cfg, log, dry_run, spec=_appspec_next_to(cfg))
    else:
        raise BadConfig(f"unknown action {name!r}")


def _appspec_next_to(cfg: config_mod.Config) -> Any:
    """The bundle's appspec (agentkit.yml sits next to it), as the agent reads it, or None."""
    from agentkit.appspec.check import lint_source
    from agentkit.appspec.locate import read_source

    path = os.path.join(os.path.dirname(os.path.abspath(cfg.path)), "appspec.yml")
    if not os.path.isfile(path):
        return None
    return lint_source(read_source(path)).appspec


def _check_against_appspec(cfg: config_mod.Config, spec: Any) -> None:
    """validate's deadline must end before the agent kills the hook running it."""
    if spec is None or cfg.validate is None:
        return
    for event, actions in cfg.events:
        scripts = spec.hooks.get(event, ())
        if "validate" in actions and scripts:
            limit = max(s.timeout for s in scripts)
            if cfg.validate.deadline + cfg.validate.timeout > limit:
                raise BadConfig(
                    f"{cfg.path}: validate.deadline ({cfg.validate.deadline:g} s) plus one try "
                    f"({cfg.validate.timeout:g} s) does not fit in the {event} hook's timeout "
                    f"({limit} s in appspec.yml): the agent would kill validate before it "
                    "reports. Lower the deadline or raise the hook's timeout.")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(config_mod.find(args.config))
    if cfg.validate is not None and any("validate" in a for _, a in cfg.events):
        _check_against_appspec(cfg, _appspec_next_to(cfg))  # the linter only when needed
    log = _logger(cfg)
    if args.action == "run":
        event = os.environ.get("LIFECYCLE_EVENT")
        if not event:
            raise BadConfig("agentkit hook run: LIFECYCLE_EVENT is not set; the CodeDeploy "
                            "agent sets it. To run one action by hand, name it "
                            "(agentkit hook link-shared ...).")
        actions = cfg.actions_for(event)
        if not actions:
            log.info("nothing to do for this event", configured=[e for e, _ in cfg.events])
        for action in actions:
            _action(action, cfg, log, args.dry_run)
        return 0
    name = f"health {args.direction}" if args.action == "health" else args.action
    _action(name, cfg, log, args.dry_run)
    return 0
