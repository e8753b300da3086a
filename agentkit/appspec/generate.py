"""appspec.yml from agentkit.yml's `deploy:` section: the same input gives the same bytes,
and the agent quirks are designed out (version 0.0 unquoted, modes as three digits that YAML
1.1 and 1.2 read alike, one `files` entry, every event through the one shim)."""

from __future__ import annotations

import json
import re

from agentkit.appspec.deploy_config import DeployConfig

HEADER = ("# Written by `agentkit appspec generate` from {config}: edit that file and run it "
          "again\n# (`--check` in CI fails when this file is not what it would write).\n")


def _scalar(text: str) -> str:
    """A YAML scalar that both agents read as this string: plain when it is made of path
    characters and is not a number, a boolean or null to YAML 1.1 or 1.2; else quoted."""
    special = text.lower() in ("yes", "no", "true", "false", "on", "off", "null", "y", "n")
    if re.fullmatch(r"[A-Za-z0-9_./][A-Za-z0-9_./-]*", text) and not special and \
            not re.fullmatch(r"[-+.0-9_eE]+", text):
        return text
    return json.dumps(text)  # a double-quoted YAML scalar


def render(cfg: DeployConfig, config_name: str = "agentkit.yml") -> str:
    out = [HEADER.format(config=config_name), "version: 0.0\n", "os: linux\n", "files:\n",
           f"  - source: {_scalar(cfg.source)}\n",
           f"    destination: {_scalar(cfg.destination)}\n"]
    if cfg.file_exists_behavior:
        out.append(f"file_exists_behavior: {cfg.file_exists_behavior}\n")
    out += _permissions(cfg)
    if cfg.events:
        out.append("hooks:\n")
        own = dict(cfg.scripts)
        for name, timeout in cfg.events:
            out.append(f"  {name}:\n")
            for location in (cfg.shim, *own.get(name, ())):
                out += [f"    - location: {_scalar(location)}\n", f"      timeout: {timeout}\n"]
                if cfg.runas:
                    out.append(f"      runas: {_scalar(cfg.runas)}\n")
    return "".join(out)


def _permissions(cfg: DeployConfig) -> list[str]:
    """One entry per kind of object (files, directories) that gets a mode, owner or group:
    the kinds do not overlap, so no object is matched twice (the agent refuses that)."""
    owned = bool(cfg.owner or cfg.group)
    kinds = [(kind, mode) for kind, mode in (("file", cfg.file_mode),
                                             ("directory", cfg.dir_mode)) if mode or owned]
    if owned and not (cfg.file_mode or cfg.dir_mode):
        kinds = [("file\n      - directory", None)]
    out = []
    for kind, mode in kinds:
        out.append(f"  - object: {_scalar(cfg.destination)}\n")
        if cfg.owner:
            out.append(f"    owner: {_scalar(cfg.owner)}\n")
        if cfg.group:
            out.append(f"    group: {_scalar(cfg.group)}\n")
        if mode:
            out.append(f"    mode: {mode}\n")  # no leading 0: 1.x would read 0644 as 420
        out.append(f"    type:\n      - {kind}\n")
    return ["permissions:\n", *out] if out else []
