"""What DownloadBundle's result is judged by before any hook runs: the appspec Install will
read (its name, read without following a link out of the archive), linted as the modelled
agent reads it, and the bundle's scripts and tree. A value, not a change of state: the
lifecycle decides what follows from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from agentkit.agent import revision_appspec
from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.locate import found_below
from agentkit.bundle import checks
from agentkit.bundle.unpack import Members, script_rel
from agentkit.findings import ERROR, Finding

PLATFORM = "linux"  # the agent modelled runs on Linux: it refuses `os: windows` (AK111)
NOT_FOUND = ("The CodeDeploy agent did not find an AppSpec file within the unpacked revision "
             "directory at revision-relative path \"{name}\". The revision was unpacked to "
             "directory \"{archive}\", and the AppSpec file was expected but not found at path "
             "\"{archive}/{name}\". Consult the AWS CodeDeploy Appspec documentation for "
             "more information at "
             "http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html")


@dataclass(frozen=True)
class Checked:
    lint: LintResult | None  # the appspec as the agent reads it; None when none is read
    findings: list[Finding]
    halt: str | None  # why no hook event can run as on an instance (the appspec not read)


def check(archive: str, shown: Callable[[str], str], appspec_name: str, generation: str,
          events: tuple[str, ...], unwritten: Members | None, image: str) -> Checked:
    """`shown` gives a path as on the instance; `unwritten` is the listing of members left
    unwritten (--no-install), None when all were written."""
    findings: list[Finding] = []
    lint: LintResult | None = None
    halt: str | None = None
    # Install's order (command_executor.rb#app_spec_real_path): the deployment's name,
    # then appspec.yaml, then appspec.yml
    for name in dict.fromkeys((appspec_name, "appspec.yaml", "appspec.yml")):
        path = os.path.join(archive, name)
        if not os.path.lexists(path):
            continue
        if checks.outside(archive, path) is None and not os.path.isfile(path):
            continue  # a directory, or a link dangling inside the bundle: not a file
        found = revision_appspec.read(archive, name, shown(path))
        if found.finding is not None:
            findings.append(found.finding)
            halt = f"{name} is a file of the instance, not of the bundle (AK152)"
            break
        assert found.source is not None
        lint = lint_source(found.source, generation, PLATFORM, events)
        findings += list(lint.findings)
        if lint.agent_verdict == "unknown":
            halt = f"verify does not read {name} (AK106)"
        break
    else:
        findings.append(Finding(ERROR, "AK150", appspec_name, None, None,
                                f"no {appspec_name} (or appspec.yaml, appspec.yml) at the "
                                f"bundle root{found_below(archive)}",
                                f"put {appspec_name} at the root of the bundle",
                                NOT_FOUND.format(archive=shown(archive), name=appspec_name)))
    spec = lint.appspec if lint else None
    if spec is not None:  # --no-install read some past its size limit: not checked
        findings += checks.scripts(
            archive, shown(archive), spec.hooks, generation,
            lambda loc: unwritten is not None and script_rel(loc) in unwritten)
    findings += checks.tree(archive, shown(archive), unwritten, image)
    return Checked(lint, findings, halt)
