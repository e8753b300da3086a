"""Keep what link-shared put on shared storage out of the agent's next cleanup.

Install writes every path it creates, one a line, to
`<root_dir>/deployment-instructions/<DEPLOYMENT_GROUP_ID>-cleanup`, and the next deployment
of the group removes each line first (aws-codedeploy-agent 1.8.x,
lib/instance_agent/plugins/codedeploy/installer.rb#install and install_instruction.rb:
InstallInstruction.parse_remove_commands, RemoveCommand#execute with File.symlink? /
File.exist? / FileUtils.rm / rmdir). Those calls follow a link on the way: once
link-shared has made `current/media` a link to the share, the lines `current/media/...` name
files on the share, and the next deployment would delete them there, for every instance.
So the lines below each linked path are dropped (the line of the link itself stays: that
deletes only the link). The file is rewritten as a whole (temporary file, fsync, rename) and
never opened through a link.

The hook learns the group from DEPLOYMENT_GROUP_ID (hook_executor.rb puts LIFECYCLE_EVENT,
DEPLOYMENT_ID, APPLICATION_NAME, DEPLOYMENT_GROUP_NAME and DEPLOYMENT_GROUP_ID in every
script's environment), and the deployment root from where the bundle lies
(`<root_dir>/<group id>/<deployment id>/deployment-archive`, command_executor.rb
#deployment_root_dir), else from the agent's configuration file, else the default.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from typing import Any

from agentkit import agent_files, environ
from agentkit.errors import HookFailed
from agentkit.safefs import chase

AGENT_ROOT = agent_files.DEPLOYMENT_ROOT
AGENT_CONFIG = agent_files.CONFIG
_ROOT_DIR = re.compile(r"^:root_dir:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def _roots(config_path: str, group: str, agent_config: str) -> list[str]:
    """Deployment roots to look in, the likeliest first."""
    roots = []
    directory = os.path.dirname(os.path.abspath(config_path))
    while directory != "/":
        deployment = os.path.dirname(directory)
        if os.path.basename(directory) == "deployment-archive" and \
                os.path.basename(os.path.dirname(deployment)) == group:
            roots.append(os.path.dirname(os.path.dirname(deployment)))
            break
        directory = os.path.dirname(directory)
    try:
        with open(agent_config, encoding="utf-8", errors="replace") as f:
            found = _ROOT_DIR.search(f.read(1 << 16))
        if found and found.group(1).startswith("/"):
            roots.append(os.path.normpath(found.group(1)))
    except OSError:
        pass
    roots.append(AGENT_ROOT)
    return list(dict.fromkeys(roots))


def find(config_path: str, group: str, agent_config: str = AGENT_CONFIG) -> tuple[str | None,
                                                                                  list[str]]:
    """The group's cleanup file, or None; and the places looked at."""
    tried = [os.path.join(root, "deployment-instructions", f"{group}-cleanup")
             for root in _roots(config_path, group, agent_config)]
    return next((p for p in tried if os.path.lexists(p)), None), tried


def _under(line: bytes, prefixes: Sequence[bytes]) -> bool:
    if line.startswith(b"semanage\0"):  # RemoveContextCommand: deletes no file
        return False
    path = line.strip(b" \t\r\n\f\v\0")  # Ruby's String#strip, as parse_remove_commands
    return any(path.startswith(p) for p in prefixes)


def prune(data: bytes, links: Sequence[str]) -> tuple[bytes, int]:
    """The cleanup file without the lines below `links`, and how many went. A last line
    without its newline (unfinished: the agent skips it) is kept as it is."""
    prefixes: list[bytes] = []
    for link in links:
        real = os.path.join(os.path.realpath(os.path.dirname(link)), os.path.basename(link))
        prefixes += [os.fsencode(p.rstrip("/") + "/") for p in dict.fromkeys((link, real))]
    lines = data.split(b"\n")
    last = lines.pop()
    kept = [line for line in lines if not _under(line, prefixes)]
    return b"".join(line + b"\n" for line in kept) + last, len(lines) - len(kept)


def _read(path: str) -> tuple[bytes, os.stat_result]:
    directory, name = chase.locate(path)
    with directory:
        fd = directory.open_file(name)
        try:
            st = os.fstat(fd)
            chunks: list[bytes] = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return b"".join(chunks), st
                chunks.append(chunk)
        finally:
            os.close(fd)


def _rewrite(path: str, data: bytes, st: os.stat_result) -> None:
    """Whole or not at all, through the directory's descriptor: a link planted at the
    file's name or its temporary name is replaced or refused, never written through."""
    directory, name = chase.locate(path)
    with directory:
        directory.remove_temporaries(name)  # a killed run's
        ids = (st.st_uid, st.st_gid) if os.geteuid() == 0 else (-1, -1)
        directory.write_atomic(name, data, stat.S_IMODE(st.st_mode), ids)


def keep_out(links: Sequence[str], config_path: str, log: Any, dry_run: bool,
             env: Mapping[str, str] | None = None, agent_config: str = AGENT_CONFIG) -> None:
    """Drop the lines below `links` from the agent's cleanup file; say in one line when
    there is no such file to look at."""
    if not links:
        return
    group = (environ.caller() if env is None else env).get("DEPLOYMENT_GROUP_ID")
    if not group:
        log.info("DEPLOYMENT_GROUP_ID is not set (not run by the CodeDeploy agent): the "
                 "agent's cleanup file was not looked at")
        return
    path, tried = find(config_path, group, agent_config)
    if path is None:
        log.warning("no agent cleanup file for this deployment group: nothing to keep from "
                    "the next deployment's cleanup", looked_at=tried)
        return
    try:
        data, st = _read(path)
    except OSError as exc:
        log.warning("the agent's cleanup file cannot be read: the next deployment's cleanup "
                    "may delete files on the share", file=path, error=exc.strerror)
        return
    pruned, removed = prune(data, links)
    if not removed:
        log.info("the agent's cleanup file names nothing below the links", file=path)
        return
    log.info("the agent's cleanup file no longer names what is now on the share (the next "
             "deployment would delete it there)", file=path, lines_removed=removed,
             dry_run=dry_run)
    if dry_run:
        return
    try:
        _rewrite(path, pruned, st)
    except OSError as exc:
        raise HookFailed(
            f"{path}: cannot rewrite the agent's cleanup file ({exc.strerror}): it still names "
            f"{removed} path(s) below the links, which the next deployment's cleanup would "
            "delete on the share. Run link-shared as root (no `runas` for its hook), then "
            "deploy again.") from None
