"""Find and read the appspec of a bundle directory the way the agents do.

Install (command_executor.rb#app_spec_real_path) takes appspec.yml, then appspec.yaml; the hook
executor (hook_executor.rb#parse_app_spec) reads only appspec.yml, and it runs first, at
BeforeInstall. Agent 2.x's DownloadBundle wants the exact name (commands/download_bundle.rs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentkit.appspec.rules import RULES
from agentkit.errors import BadInput
from agentkit.yamlconf.source import Source, read_source

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


def nearest(root: str, names: tuple[str, ...] = ("appspec.yml", "appspec.yaml"),
            depth: int = 3, budget: int = 20_000) -> str | None:
    """The shallowest appspec below `root` (its path relative to root), looked for breadth
    first, a few levels deep, never through a link: where a bundle's appspec is when the
    archive was made from the directory above the bundle."""
    level, seen = [root], 0
    for _ in range(depth):
        below = []
        for directory in sorted(level):
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen > budget:
                    return None
                if directory != root and entry.name in names and \
                        entry.is_file(follow_symlinks=False):
                    return os.path.relpath(entry.path, root)
                if entry.is_dir(follow_symlinks=False):
                    below.append(entry.path)
        level = below
    return None


def found_below(root: str) -> str:
    """What AK150 adds when an appspec lies deeper in the bundle ("" when none does)."""
    deeper = nearest(root)
    if deeper is None:
        return ""
    top = os.path.dirname(deeper)
    return (f"; there is one at {deeper}: the archive was made from a directory above the "
            f"bundle, so put what {top}/ holds at the archive's root (tar -C {top} -czf "
            "app.tgz ., or zip from inside it; agentkit bundle does this)")


def locate(path: str, generation: str) -> Located:
    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file or directory. Give an appspec file or a bundle "
                       "directory that holds appspec.yml.")
    if not os.path.isdir(path):
        return Located(read_source(path), None)
    found = [n for n in NAMES if os.path.isfile(os.path.join(path, n))]
    if not found:
        finding = Finding(ERROR, "AK150", os.path.join(path, "appspec.yml"), None, None,
                          f"{path}: no appspec.yml (or appspec.yaml) at the bundle root"
                          f"{found_below(path)}",
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
