"""The agent's configuration file (/etc/codedeploy-agent/conf/codedeployagent.yml), the keys
verify models: `:root_dir:` (where deployments live: hooks see their paths under it),
`:max_revisions:` (how many deployments DownloadBundle keeps) and `:log_dir:`.

Keys are written as Ruby symbols (`:root_dir:` is the YAML key ":root_dir"); the agent reads
them with ProcessManager::Config (conf/codedeployagent.yml is the default file). An invalid
max_revisions makes the agent quit at start (command_executor.rb#initialize).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import yaml

from agentkit import agent_files
from agentkit.errors import BadInput

DEFAULT_ROOT = agent_files.DEPLOYMENT_ROOT
DEFAULT_LOG_DIR = agent_files.LOG_DIR
DEFAULT_MAX_REVISIONS = 5  # command_executor.rb ARCHIVES_TO_RETAIN


class AgentConfig(NamedTuple):
    root_dir: str = DEFAULT_ROOT
    max_revisions: int = DEFAULT_MAX_REVISIONS
    log_dir: str = DEFAULT_LOG_DIR
    path: str | None = None  # the file read, if any


def read(path: str | None) -> AgentConfig:
    if path is None:
        return AgentConfig()
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the agent configuration file: "
                       f"{exc.strerror}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}); the "
                       "agent would not start with it. Fix the file (keys look like "
                       "`:root_dir: /opt/codedeploy-agent/deployment-root`).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of `:key: value` lines, got "
                       f"{type(data).__name__}.")
    return AgentConfig(_root(path, data), _max_revisions(path, data),
                       str(data.get(":log_dir") or DEFAULT_LOG_DIR), path)


def _root(path: str, data: dict[str, Any]) -> str:
    root = data.get(":root_dir")
    if root is None:
        return DEFAULT_ROOT
    text = str(root)
    if not os.path.isabs(text) or "\0" in text:
        raise BadInput(f"{path}: :root_dir: {text!r} is not an absolute path; give the "
                       "directory the agent keeps deployments in, e.g. "
                       f"{DEFAULT_ROOT}.")
    return os.path.normpath(text)


def _max_revisions(path: str, data: dict[str, Any]) -> int:
    value = data.get(":max_revisions")
    if value is None:
        return DEFAULT_MAX_REVISIONS
    try:  # Ruby's Integer(): an integer or a string of one; not 2.5
        number = int(value) if not isinstance(value, (bool, float)) else None
    except ValueError:
        number = None
    if number is None or number < 1:
        raise BadInput(f"{path}: :max_revisions: {value!r} is not a whole number of at least "
                       "1; the agent logs \"Invalid configuration :max_revision=...\" and "
                       "quits. Write e.g. `:max_revisions: 5`.")
    return number
