"""Reading a revision's appspec as verify may: never a file of this machine the bundle (or a
hook, which may rewrite the deployment root) points at.

The agent reads `deployment-archive/appspec.yml` with File.read, following any link
(hook_executor.rb#parse_app_spec): a link to /etc/shadow makes it parse the instance's
shadow file. verify follows a link only while it stays inside the archive; one that leaves
it is a finding (AK152), and what the agent would read there is not known here.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from agentkit import beneath
from agentkit.appspec.rules import RULES
from agentkit.bundle.checks import outside
from agentkit.errors import BadInput
from agentkit.findings import ERROR, Finding
from agentkit.yamlconf.source import Source, SyntaxProblem, load_text

MAX_BYTES = 64 << 20


class Read(NamedTuple):
    source: Source | None  # None: not read (see finding)
    finding: Finding | None


def read(archive: str, name: str, shown: str) -> Read:
    path = os.path.join(archive, name)
    elsewhere = outside(archive, path)
    if elsewhere is not None:
        return Read(None, Finding(
            ERROR, "AK152", shown, None, None,
            f"{name} is a link to {elsewhere}, outside the bundle: the agent reads that file of "
            "the instance as the appspec; verify does not read files of this machine the "
            "bundle points at", RULES["AK152"].hint, None))
    real = os.path.realpath(path)
    try:  # never a FIFO or device a hook left in its place (it would block or read a device)
        with os.fdopen(beneath.open_regular(real), "rb") as f:
            raw = f.read(MAX_BYTES)
    except OSError as exc:
        raise BadInput(f"{shown}: cannot read the appspec ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # libyaml's reader refuses it before parsing (as Psych and serde_yaml report it)
        line = raw[:exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = SyntaxProblem(line, column, "invalid leading UTF-8 octet", "", line, column)
        return Read(Source(shown, "", False, None, problem, ()), None)
    return Read(load_text(shown, text), None)
