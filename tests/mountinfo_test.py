"""mountinfo: this process's mounts, read from /proc/self/mountinfo, escapes undone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit import mountinfo
from agentkit.mountinfo import Mount


def test_mounts_include_this_process_s_proc() -> None:
    found = mountinfo.mounts()
    assert Mount("/proc", "proc") in found
    assert all(m.point.startswith("/") and m.fstype for m in found)


def test_at_or_below_a_path_without_mounts_is_empty(tmp_path: Path) -> None:
    assert mountinfo.at_or_below(str(tmp_path / "nothing")) == []


_CHILD = """
import json, os, subprocess, sys
from agentkit import mountinfo
base = sys.argv[1]
for rel in ("we ird\\\\dir", "we ird\\\\dir/in\\tner", "we ird\\\\dir-sibling"):
    os.makedirs(os.path.join(base, rel), exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", os.path.join(base, rel)], check=True)
print(json.dumps([mountinfo.at_or_below(os.path.join(base, "we ird\\\\dir")),
                  [m for m in mountinfo.mounts() if m.point.startswith(base)]]))
"""


def test_at_or_below_undoes_escapes_and_keeps_parents_first(tmp_path: Path) -> None:
    # a private mount namespace of a child: nothing mounted here shows outside it
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace for this user here: {probe.stderr.strip()}")
    package = str(Path(mountinfo.__file__).parents[1])
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c",
                           _CHILD, str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": package})
    assert done.returncode == 0, done.stderr
    below, mounts = json.loads(done.stdout)
    weird = f"{tmp_path}/we ird\\dir"
    assert below == [weird, f"{weird}/in\tner"]
    assert mounts == [[weird, "tmpfs"], [f"{weird}/in\tner", "tmpfs"],
                      [f"{weird}-sibling", "tmpfs"]]
    assert mountinfo.at_or_below(weird) == []  # not in this process's namespace
