"""What one verify run is asked to model, split by who reads it: the agent and the deployment
(AgentOptions), where and how the hooks run (BoxOptions), what the report lists
(ReportOptions). Plain values, decided by the command line before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentkit.agent import agent_yml
from agentkit.agent.event_plan import IN_PLACE
from agentkit.verify.hookbox import DEFAULT_MAX_DISK, DEFAULT_MAX_PROCS


@dataclass(frozen=True)
class AgentOptions:
    """The agent generation, its configuration, and the deployment it runs."""

    bundle_type: str | None = None
    generation: str = "1"
    file_exists_behavior: str = "DISALLOW"
    group_id: str = "dg-verify"
    deployment_id: str = "d-VERIFY0001"
    load_balancer: bool = True  # codedeploy-local runs the traffic hooks (deployer.rb)
    install: bool = True
    events: tuple[str, ...] = ()  # a subset, as codedeploy-local --events
    application_name: str = "agentkit-verify"
    group_name: str = "LocalFleet"
    bundle_env: tuple[tuple[str, str], ...] = ()  # BUNDLE_* of an S3 revision
    env_from_caller: bool = False  # hooks get verify's environment, not the agent's
    appspec_name: str = "appspec.yml"  # the deployment's AppSpecFilename
    agent_root: str = agent_yml.DEFAULT_ROOT  # the agent's :root_dir: (its configuration file)
    max_revisions: int = agent_yml.DEFAULT_MAX_REVISIONS
    ignore_stop_failures: bool = False  # the previous revision's ApplicationStop may fail
    deployment: str = IN_PLACE  # or a blue/green deployment's REPLACEMENT or ORIGINAL instance


@dataclass(frozen=True)
class BoxOptions:
    """Where the hooks run, what they see of this machine, and their bounds."""

    hooks: str = "sandbox"  # sandbox, host or skip
    network: bool = False
    max_disk: int = DEFAULT_MAX_DISK  # bytes hooks may write; scripts.log's cap
    max_procs: int = DEFAULT_MAX_PROCS
    masked: tuple[str, ...] = ()  # verify's own directories, hidden from hooks
    image: str = ""  # the instance's root file system (a directory); "": this machine's /
    image_notes: tuple[str, ...] = ()  # what unpacking it left out


@dataclass(frozen=True)
class ReportOptions:
    """What the report lists: the JSON report's tree and digests cost a walk and a hash."""

    digests: bool = True  # hash files while unpacking (the JSON tree shows them)
    paths: bool = True  # list the tree and the changes (else: only count the changes)


@dataclass(frozen=True)
class Options:
    archive: str
    agent: AgentOptions = field(default_factory=AgentOptions)
    box: BoxOptions = field(default_factory=BoxOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
