"""The environment the agent gives hook scripts, and only that.

The agent daemon is started by its systemd unit as
`/bin/bash -a -c '[ -f /etc/profile ] && source /etc/profile; .../codedeploy-agent start'`
(init.d/codedeploy-agent.service): systemd's environment for a system service (PATH, and LANG
from /etc/locale.conf; no HOME without User=, systemd.exec(5)) plus what /etc/profile sets
with every variable exported (-a): USER and LOGNAME on Amazon Linux and RHEL. To that the
hook executor adds the lifecycle variables (hook_executor.rb @child_envs) and, for S3 and
GitHub revisions, BUNDLE_* (revision_envs). Agent 2.x builds the same set without AWS
credential variables (notes: rust-2.md).

The job's own environment (a CI runner's secrets, its PATH with pyenv shims first) never
reaches hooks unless asked for (`verify --env-from-caller`, as codedeploy-local run by hand).
"""

from __future__ import annotations

from agentkit import environ

AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AGENT_BASE = {"PATH": AGENT_PATH, "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_SECURITY_TOKEN")


def hook_env(lifecycle: dict[str, str], from_caller: bool, generation: str) -> dict[str, str]:
    base = dict(environ.caller()) if from_caller else dict(AGENT_BASE)
    if generation == "2":
        for name in CREDENTIALS:
            base.pop(name, None)
    return environ.derived(base, **lifecycle)
