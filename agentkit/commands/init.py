"""`agentkit init [DIR]`: a commented agentkit.yml, the appspec.yml it generates, and the
hook shim, ready for `agentkit bundle` and `agentkit verify`."""

from __future__ import annotations

import argparse
import os
import sys

from agentkit.appspec import deploy_config, generate
from agentkit.appspec.shim import SHIM
from agentkit.commands.appspec import write_atomically
from agentkit.errors import BadInput

CONFIG = """\
# agentkit.yml: what the bundle's hooks do on the instance (`agentkit hook run`) and what
# `agentkit appspec generate` writes into appspec.yml (the deploy: section).
version: 1
release: {destination}
deploy:
  destination: {destination}   # where CodeDeploy's Install copies the bundle
  # file_mode: 644             # modes of what is installed (default: the archive's);
  # dir_mode: 755              # three digits, which both agent generations read alike
  # owner: www-data            # owner and group of what is installed
  # group: www-data
  # file_exists_behavior: OVERWRITE
  # runas: deploy              # the user the hooks run as (default: root)
  events:                      # the events whose hook runs, with its timeout in seconds
    AfterInstall: 300
    ValidateService: 120
health:
  file: {destination}/healthcheck.html   # what the load balancer's health check reads
  drain: {{interval: 0}}
events:                        # what `agentkit hook run` does in each event
  AfterInstall: [health up]
  ValidateService: []
# verify:                      # `agentkit verify`'s defaults, read from the project's copy
#   image: images/al2023.tar.gz  # the instance's root file system (docker export)
"""


def run(args: argparse.Namespace) -> int:
    top = os.path.abspath(args.directory)
    if not args.destination.startswith("/"):
        raise BadInput(f"--destination {args.destination}: give an absolute path on the "
                       "instance (e.g. /var/www/app).")
    files = {"agentkit.yml": (CONFIG.format(destination=args.destination), 0o644),
             "scripts/agentkit-hook.sh": (SHIM, 0o755)}
    existing = [n for n in (*files, "appspec.yml") if os.path.lexists(os.path.join(top, n))]
    if existing and not args.force and not args.dry_run:
        raise BadInput(f"{top}: {', '.join(existing)} already exist(s); nothing was written. "
                       "Pass --force to replace them.")
    if args.dry_run:
        for name, (text, mode) in files.items():
            sys.stdout.write(f"--- {os.path.join(top, name)} ({mode:o})\n{text}")
        sys.stdout.write(f"--- {os.path.join(top, 'appspec.yml')} (generated from "
                         "agentkit.yml)\n")
        return 0
    os.makedirs(os.path.join(top, "scripts"), exist_ok=True)
    for name, (text, mode) in files.items():
        write_atomically(os.path.join(top, name), text, mode)
    config = os.path.join(top, "agentkit.yml")
    write_atomically(os.path.join(top, "appspec.yml"),
                     generate.render(deploy_config.parse(config)))
    sys.stdout.write(f"wrote {config}, {top}/appspec.yml and {top}/scripts/agentkit-hook.sh\n")
    return 0
