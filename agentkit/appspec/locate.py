"""Find and read the appspec of a bundle directory the way the agents do.

Install (command_executor.rb#app_spec_real_path) takes appspec.yml, then appspec.yaml; the hook
executor (hook_executor.rb#parse_app_spec) reads only appspec.yml, and it runs first, at
BeforeInstall. Agent 2.x's DownloadBundle wants the exact name (commands/download_bundle.rs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentkit.appspec.rules import RULES
from agentkit.appspec.source import Source, read_source
from agentkit.errors import BadInput

__all__ = ["Located", "locate", "read_source"]
from agentkit.findings import ERROR, Finding

NAMES = ("appspec.yml", "appspec.yaml")


@dataclass(frozen=True)
class Located:
    source: Source | None
    bundle_finding: Finding | None  # a problem with the bundle rather than the file


def _missing_message(generation: str, bundle: str) -> str:
    expected = os.path.join(bundle, "appspec.yml")
    if generation == "2":
        return ("The deployment failed because the specified file does not exist at the "
                f"expected location: {expected}.")
    return RULES["AK150"].agent1.format(dir=bundle, path=expected)  # type: ignore[union-attr]


def locate(path: str, generation: str) -> Located:
    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file or directory. Give an appspec file or a bundle "
                       "directory that holds appspec.yml.")
    if not os.path.isdir(path):
        return Located(read_source(path), None)
    found = [n for n in NAMES if os.path.isfile(os.path.join(path, n))]
    if not found:
        finding = Finding(ERROR, "AK150", os.path.join(path, "appspec.yml"), None, None,
                          f"{path}: no appspec.yml (or appspec.yaml) at the bundle root",
                          RULES["AK150"].hint, _missing_message(generation, path))
        return Located(None, finding)
    chosen = os.path.join(path, found[0])
    if found[0] == "appspec.yml":
        return Located(read_source(chosen), None)
    detail = ("only appspec.yaml: agent 1.x installs from it, but its hook executor reads "
              "only appspec.yml and fails at BeforeInstall" if generation == "1" else
              "only appspec.yaml: agent 2.x's DownloadBundle wants appspec.yml and fails")
    finding = Finding(ERROR, "AK151", chosen, None, None, detail, RULES["AK151"].hint,
                      _missing_message(generation, path))
    return Located(read_source(chosen), finding)
