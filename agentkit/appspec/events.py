"""Lifecycle event names as the agents know them.

lib/aws/codedeploy/local/deployer.rb DEFAULT_ORDERED_LIFECYCLE_EVENTS and
lib/instance_agent/plugins/codedeploy/command_poller.rb DEFAULT_HOOK_MAPPING (2.x: main.rs and
host_command/appspec_validator.rs keep the same names and order).
"""

from __future__ import annotations

import difflib

ORDERED = ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
           "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService",
           "BeforeAllowTraffic", "AfterAllowTraffic")
AGENT_INTERNAL = ("DownloadBundle", "Install")  # the agent's own steps: scripts never run
SERVICE_ONLY = ("BlockTraffic", "AllowTraffic")  # the load balancer's steps, not the agent's
SCRIPTED = tuple(e for e in ORDERED if e not in AGENT_INTERNAL)
# Run from the last successful revision, not the one being deployed (hook_executor.rb).
FROM_PREVIOUS = ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop")


def suggest(name: str) -> str | None:
    """The scripted event a typo'd or re-spaced name most likely meant."""
    squashed = name.replace(" ", "").replace("_", "").replace("-", "").lower()
    for event in SCRIPTED:
        if event.lower() == squashed:
            return event
    close = difflib.get_close_matches(name, SCRIPTED, n=1, cutoff=0.75)
    return close[0] if close else None
