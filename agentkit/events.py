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
TRAFFIC = ("BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
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


def check_order(names: tuple[str, ...]) -> str | None:
    """codedeploy-local's objection to an --events list, in its words (cli_validator.rb:
    only the previous revision's events may come before DownloadBundle; before Install,
    those, DownloadBundle and BeforeInstall)."""
    current = [n for n in SCRIPTED if n not in FROM_PREVIOUS and n != "BeforeInstall"]
    given = ",".join(names)
    if "DownloadBundle" in names:
        before = names[:names.index("DownloadBundle")]
        if any(n in before for n in (*current, "Install")):
            return ("The only events that can be specified before DownloadBundle are "
                    f"{','.join(FROM_PREVIOUS)}. Please fix the order of your specified "
                    f"events: {given}")
    if "Install" in names:
        before = names[:names.index("Install")]
        if any(n in before for n in current):
            allowed = ",".join((*FROM_PREVIOUS, "DownloadBundle", "BeforeInstall"))
            return ("The only events that can be specified before Install are "
                    f"{allowed}. Please fix the order of your specified events: {given}")
    return None

