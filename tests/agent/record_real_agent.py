"""Record what the CodeDeploy agent 1.8.x does with each case of tests/agent/real_agent_test.py.

Writes tests/data/real_agent/install.json, second.json and hook.json: for each case, the
description the bundle and the host are built from, and the agent's outcome (result, failed
event, message, its install.json and cleanup file, the host's tree with type, mode, link target
and owner; for hooks the error code and scripts.log). The test_recorded_* tests hold verify to
these on every machine. Run it as root, from the checkout, with Ruby, setfacl (the acl package)
and the agent's source, a checkout or a bare git mirror (its HEAD):

    AGENTKIT_AGENT_SRC=/path/to/aws-codedeploy-agent \
        .venv/bin/python -m tests.agent.record_real_agent

The runas users agentkit-bash and agentkit-nologin are made for the run if missing (and removed
after). The output depends on the agent, Ruby, tar and this machine's shells (their error
messages are in scripts.log), nothing else: a second run writes the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the checkout's root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.agent import real_agent_test as cases
from tests.conftest import RUNAS_USERS, real_users

Recorder = Callable[[Path, str, str], dict[str, Any]]
KINDS: dict[str, tuple[dict[str, Any], Recorder]] = {
    "install": (cases.CASES, cases.record_install),
    "second": (cases.SECOND, cases.record_second),
    "hook": (cases.HOOKS, cases.record_hook),
}


def _version(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout else ""


def _agent_commit(src: Path) -> str:
    git = ["git", f"--git-dir={src}"] if (src / "HEAD").is_file() else ["git", "-C", str(src)]
    return _version(*git, "log", "-1", "--format=%H %s") or "unknown (not a git repository)"


def dump(value: Any, indent: str = "") -> str:
    """JSON with sorted keys, one key a line, and a list of plain values on one line (a path
    of the tree: type, mode, link target, owner); ASCII only (names that are not UTF-8 are
    \\udcXX escapes, as Python reads them back)."""
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {dump(v, inner)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dump(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value)


def main() -> int:
    src = os.environ.get("AGENTKIT_AGENT_SRC", "")
    problems = [text for bad, text in (
        (not src, "set AGENTKIT_AGENT_SRC to the agent's source (a checkout or a bare mirror)"),
        (os.geteuid() != 0, "run as root: the agent runs as root"),
        (shutil.which("ruby") is None, "install Ruby"),
        (shutil.which("setfacl") is None, "install acl (the agent runs setfacl)"),
    ) if bad]
    if problems:
        print("record_real_agent: " + "; ".join(problems), file=sys.stderr)
        return 2
    os.umask(0o022)
    work = Path(tempfile.mkdtemp(prefix="agentkit-record-"))
    users = real_users(RUNAS_USERS, ("/bin/bash", "/usr/sbin/nologin"))
    made = False
    try:
        work.chmod(0o711)  # the runas users reach the hook scripts
        lib = cases.agent_lib_dir(Path(src), work)
        if lib is None:
            print(f"record_real_agent: {src} is neither a checkout nor a bare git mirror of "
                  "aws-codedeploy-agent", file=sys.stderr)
            return 2
        next(users)
        made = True
        recorded_with = {
            "agent": _agent_commit(Path(src)),
            "ruby": _version("ruby", "-e", "print RUBY_VERSION"),
            "tar": _version("tar", "--version"),
            "by": "tests/agent/record_real_agent.py",
        }
        cases.RECORDED.mkdir(parents=True, exist_ok=True)
        for kind, (names, record) in KINDS.items():
            out = {}
            for i, case in enumerate(names):
                root = work / f"{kind}-{i}"
                root.mkdir(mode=0o711)
                root.chmod(0o711)
                out[case] = record(root, lib, case)
            text = dump({"recorded_with": recorded_with, "cases": out})
            (cases.RECORDED / f"{kind}.json").write_text(text + "\n", encoding="ascii")
            print(f"{kind}: {len(out)} cases -> {cases.RECORDED / f'{kind}.json'}")
    finally:
        if made:
            for _ in users:  # removes the users it made
                pass
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
