"""Findings name what a user can find: the archive member (`scripts/start.sh`), not the
path inside verify's throw-away copy of the agent's deployment root; a git hint names the
path in the repository when the bundle is a directory inside one."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

from agentkit import proc
from agentkit.findings import Finding

_GIT_HINT = "git update-index --chmod=+x {} (or chmod +x before archiving)"


def git_prefix(bundle: str) -> str | None:
    """The bundle directory's path inside its git work tree ("" at the top), or None."""
    if not os.path.isdir(bundle) or proc.which("git") is None:
        return None
    done = proc.run(["git", "-C", bundle, "rev-parse", "--show-prefix"])
    return done.stdout.strip() if done.returncode == 0 else None


def relabel(findings: Iterable[Finding], shown_archive: str, stripped: str | None,
            repo_prefix: str | None) -> list[Finding]:
    """`shown_archive`: the deployment-archive directory as the report shows it;
    `stripped`: the archive's top-level directory the agent removed, if any."""
    base = shown_archive.rstrip("/") + "/"
    out = []
    for f in findings:
        if not f.path.startswith(base):
            out.append(f)
            continue
        member = os.path.normpath(f.path[len(base):])
        if stripped:
            member = f"{stripped}/{member}"
        changed = dataclasses.replace(f, path=member)
        if f.code == "AK501":
            where = member if repo_prefix is None else repo_prefix + member
            changed = dataclasses.replace(changed, hint=_GIT_HINT.format(where))
        out.append(changed)
    return out
