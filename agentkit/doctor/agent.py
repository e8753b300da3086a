"""The CodeDeploy agent on this instance: installed, running, configured, its deployment root
and its last deployment. Paths are the agent's defaults (conf/codedeployagent.yml of
aws-codedeploy-agent: `:pid_dir:` /opt/codedeploy-agent/state/.pid/, `:log_dir:`
/var/log/aws/codedeploy-agent/, `:root_dir:` /opt/codedeploy-agent/deployment-root), read
under `root` (the instance's /, or a scratch copy)."""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

import yaml

from agentkit import agent_files, fstree
from agentkit.agent import agent_yml as agent_config
from agentkit.doctor.result import Check, fail, ok, warn
from agentkit.errors import BadInput

HOME = "/opt/codedeploy-agent"
CONFIG = agent_files.CONFIG
PID_DIR = "/opt/codedeploy-agent/state/.pid/"
LOG_NAME = "codedeploy-agent.log"
DEPLOYMENTS_LOG = "deployment-logs/codedeploy-agent-deployments.log"  # instance_agent/log.rb
NOT_DEPLOYMENTS = ("deployment-instructions", "deployment-logs", "ongoing-deployment")
START = "sudo systemctl start codedeploy-agent (then see its log: journalctl -u codedeploy-agent)"


class Agent(NamedTuple):
    """What the checks read once: the agent's config (None when unreadable) and its keys."""

    config: agent_config.AgentConfig | None
    raw: dict[str, Any]


def under(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/")) if root not in ("", "/") else path


def read(root: str) -> tuple[Agent, Check]:
    path = under(root, CONFIG)
    if not os.path.exists(path):
        return Agent(agent_config.AgentConfig(), {}), warn(
            "agent config", f"{CONFIG} is missing: the agent runs on its defaults",
            "reinstall the agent (its package writes the file), or write the keys you need")
    try:
        cfg = agent_config.read(path)
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
    except (BadInput, yaml.YAMLError, OSError) as exc:
        return Agent(None, {}), fail("agent config", str(exc), "fix the file: the agent does "
                                     "not start with it")
    proxy = raw.get(":proxy_uri") or "none"
    return Agent(cfg, raw), ok("agent config", f"{CONFIG}: root_dir {cfg.root_dir}, "
                               f"max_revisions {cfg.max_revisions}, proxy {proxy}")


def installed(root: str, agent: Agent) -> Check:
    """The version file the agent reports itself by (deploy_agent_version.rb: <root_dir>/../
    .version, else /opt/codedeploy-agent/.version; `agent_version: OFFICIAL_1.8.1-...`)."""
    places = [os.path.join(agent.config.root_dir, "..", ".version")] if agent.config else []
    for path in [*places, f"{HOME}/.version"]:
        try:
            with open(under(root, os.path.normpath(path)), encoding="utf-8") as f:
                text = f.read(4096).split(": ")[-1].strip()
        except OSError:
            continue
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
        generation = {"1": "the Ruby agent 1.x", "2": "the Rust agent 2.x"}.get(
            found.group(1) if found else "", "an agent generation agentkit does not know")
        return ok("agent installed", f"{text} ({generation}; verify --agent "
                  f"{found.group(1) if found else '1'} models it)")
    return fail("agent installed", f"no {HOME}/.version: the CodeDeploy agent is not "
                "installed", "install it in the AMI (packaging/packer installs 1.8.x)")


def running(root: str, agent: Agent) -> Check:
    pid_dir = str(agent.raw.get(":pid_dir") or PID_DIR)
    program = str(agent.raw.get(":program_name") or "codedeploy-agent")
    path = os.path.join(pid_dir, f"{program}.pid")
    try:
        with open(under(root, path), encoding="utf-8") as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return fail("agent running", f"not running: no pid in {path}", START)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return fail("agent running", f"not running: {path} names pid {pid}, which is gone "
                    "(the agent died or was killed)", START)
    if "codedeploy" not in argv:
        return fail("agent running", f"not running: pid {pid} of {path} is `{argv}` now "
                    "(a stale pid file)", START)
    return ok("agent running", f"pid {pid} ({argv})")


def _deployments(group_dir: str) -> list[str]:
    with os.scandir(group_dir) as it:
        return [e.path for e in it if e.is_dir(follow_symlinks=False)]


def _size(path: str) -> int:
    return sum(st.st_size for _path, st in fstree.walk_files(path))


def deployment_root(root: str, agent: Agent) -> Check:
    """Each group keeps at most max_revisions deployments, plus its last successful one
    (command_executor.rb#cleanup_old_archives): more means the cleanup keeps failing."""
    if agent.config is None:
        return warn("deployment root", "not checked: the agent config is unreadable",
                    "fix the agent config first")
    base = under(root, agent.config.root_dir)
    try:
        groups = [e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False)
                  and e.name not in NOT_DEPLOYMENTS]
    except OSError:
        return ok("deployment root", f"{agent.config.root_dir}: no deployments yet")
    counts = {os.path.basename(g): len(_deployments(g)) for g in groups}
    size = sum(_size(g) for g in groups)
    limit = agent.config.max_revisions
    over = {g: n for g, n in counts.items() if n > limit + 1}
    summary = (f"{agent.config.root_dir}: {sum(counts.values())} revision(s) in "
               f"{len(counts)} group(s), {size / 1e6:.1f} MB")
    if over:
        worst = max(over, key=lambda g: over[g])
        return fail("deployment root", f"{summary}; group {worst} holds {over[worst]} "
                    f"revisions, over max_revisions {limit}: the agent's cleanup is failing",
                    f"look for rm errors in {LOG_NAME}, free the disk, or remove the oldest "
                    f"revisions of {worst} by hand")
    return ok("deployment root", f"{summary} (max_revisions {limit})")


def last_deployment(root: str, agent: Agent) -> Check:
    """The last deployment the agent logged: its events, and the failure its log records
    with the end of that deployment's scripts.log."""
    if agent.config is None:
        return warn("last deployment", "not checked: the agent config is unreadable",
                    "fix the agent config first")
    log = under(root, os.path.join(agent.config.root_dir, DEPLOYMENTS_LOG))
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = f.read()[-(1 << 20):].splitlines()
    except OSError:
        return ok("last deployment", "none logged yet")
    ids = [m.group(1) for line in lines if (m := re.search(r"\[(d-[A-Z0-9]+)\]", line))]
    if not ids:
        return ok("last deployment", "none logged yet")
    last = ids[-1]
    events = list(dict.fromkeys(m.group(1) for line in lines if f"[{last}]" in line and
                                (m := re.search(r"LifecycleEvent - (\w+)", line))))
    failure = _failure(root, agent, last)
    tail = _scripts_tail(root, agent, last)
    detail = f"{last}: {', '.join(events) or 'no lifecycle events logged'}"
    if failure:
        return Check("last deployment", "fail", f"{detail}; {failure}",
                     "fix the script (verify the bundle with agentkit verify), then redeploy",
                     tail + _diagnosed(failure, events[-1] if events else "", tail, root))
    return ok("last deployment", detail)


def _diagnosed(failure: str, event: str, tail: tuple[str, ...],
               root: str = "/") -> tuple[str, ...]:
    """The diagnosis rules (agentkit explain) over the failure and its scripts.log."""
    from agentkit.diagnose.case import Case, log_lines
    from agentkit.diagnose.engine import diagnose_all
    from agentkit.diagnose.parse import error_code_of

    message = re.sub(r" - \[d-[A-Z0-9]+\]$", "", failure)
    found = diagnose_all([Case(event, error_code_of(message), message,
                               log_lines("\n".join(tail)), image=root or "/")])
    out: list[str] = []
    for d in found:
        out += [f"{d.code} {d.name}", f"  cause: {d.cause}", f"  fix: {d.fix}"]
    return tuple(out)


def _failure(root: str, agent: Agent, deployment: str) -> str | None:
    path = under(root, os.path.join(agent.config.log_dir if agent.config else
                                    agent_config.DEFAULT_LOG_DIR, LOG_NAME))
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read()[-(4 << 20):].splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        found = re.search(r"(Script at specified location: .* failed .*|Script does not "
                          r"exist at specified location: \S+|Expected deployment artifact .*)",
                          line)
        if found and deployment in line:  # another deployment's failure is not this one's
            return found.group(1).rstrip("\"'}")
    return None


def _scripts_tail(root: str, agent: Agent, deployment: str) -> tuple[str, ...]:
    assert agent.config is not None
    base = under(root, agent.config.root_dir)
    try:
        groups = [e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return ()
    for group in groups:
        path = os.path.join(group, deployment, "logs", "scripts.log")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return tuple(f.read()[-8192:].splitlines()[-10:])
        except OSError:
            continue
    return ()
