"""The hook box as a plain user sees the same as root's (issue 29): a runas user whose home
this machine's root made, outside the caller's subordinate ids, owns it in the box too.

Each test runs in both of CI's runs (root, then agentkit-ci: .ci/run) and asserts the same
verdict, or, for the plain user, "undetermined" with the whole reason; never a failure the
instance would not have.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from ..archives import appspec, tar
from ..conftest import MADE_BY_TESTS

# A system user (no hidden human home) whose home root made one level deeper than the box
# copies /srv's directories (mimic.MAX_DEPTH): .ci/run makes it for the plain run.
DEEP_USER = "agentkit-deep"
DEEP_TOP = "/srv/agentkit-deep"
DEEP_HOME = f"{DEEP_TOP}/home/{DEEP_USER}"


@pytest.fixture(scope="module")
def deep_user() -> Iterator[pwd.struct_passwd]:
    try:
        entry = pwd.getpwnam(DEEP_USER)
    except KeyError:
        entry = None
    if entry is not None:
        if entry.pw_dir != DEEP_HOME or not os.path.isdir(DEEP_HOME):
            pytest.skip(f"{DEEP_USER} exists here with another home than {DEEP_HOME}")
        made = entry.pw_gecos == MADE_BY_TESTS and os.geteuid() == 0
        yield entry
    else:
        if os.geteuid() != 0:
            pytest.skip(f"{DEEP_USER} is made by root (.ci/run makes it for the plain run)")
        subprocess.run(["useradd", "--system", "-m", "-d", DEEP_HOME, "-c", MADE_BY_TESTS,
                        "-s", "/bin/bash", DEEP_USER], check=True, capture_output=True)
        made = True
        yield pwd.getpwnam(DEEP_USER)
    if made:
        subprocess.run(["userdel", "-r", DEEP_USER], capture_output=True, check=False)
        shutil.rmtree(DEEP_TOP, ignore_errors=True)


def _verify(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str
            ) -> tuple[int, dict[str, Any]]:
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", "  BeforeInstall:\n"
                                        "    - location: s.sh\n"
                                        f"      runas: {DEEP_USER}\n"), 0o644),
        ("s.sh", "file", f"#!/bin/bash\nset -e\n{body}", 0o755)])
    code = main(["verify", "--format", "json", str(arc)])
    return code, json.loads(capsys.readouterr().out)


def _output(out: dict[str, Any]) -> list[str]:
    event = next(e for e in out["events"] if e["name"] == "BeforeInstall")
    return [o["line"] for r in event["scripts"] for o in r["output"]]


def test_hookbox_runas_home_root_made_deep_is_the_users_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        deep_user: pwd.struct_passwd) -> None:
    # the agent's `mkdir ~/app` succeeds; a plain user's box showed the home as nobody's
    code, out = _verify(tmp_path, capsys, "mkdir ~/app\nstat -c '%U %a' ~ ~/app\n")
    assert (code, out["result"], out["undetermined"]) == (0, "succeeded", None), out["error"]
    assert _output(out) == [f"{DEEP_USER} 755", f"{DEEP_USER} 755"]
    assert f"{DEEP_HOME}/app" in {c["path"] for c in out["changes"] if c["change"] == "created"}
    assert not os.path.exists(f"{DEEP_HOME}/app")


def test_hookbox_runas_file_of_a_root_made_home_is_undetermined_for_a_plain_user(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        deep_user: pwd.struct_passwd) -> None:
    # the box copies directories, not a home's files: ~/.profile (from /etc/skel, the user's)
    # shows as nobody's to a plain user, so what the runas user may do to it is not known
    if not os.path.isfile(f"{DEEP_HOME}/.profile"):
        pytest.skip("/etc/skel has no .profile here")
    code, out = _verify(tmp_path, capsys, "echo 'export APP=1' >> ~/.profile\necho done\n")
    if os.geteuid() == 0:
        assert (code, out["result"], out["undetermined"]) == (0, "succeeded", None)
        assert _output(out) == ["done"]
        return
    profile = f"{DEEP_HOME}/.profile"
    script = (f"/opt/codedeploy-agent/deployment-root/{out['deployment_group_id']}/"
              f"{out['deployment_id']}/deployment-archive/s.sh")
    assert (code, out["result"], out["failed_event"]) == (4, "undetermined", None)
    assert out["undetermined"] == (
        f"s.sh was refused {profile} (`{script}: line 3: {profile}: Permission denied`); it is "
        f"owned by uid {deep_user.pw_uid} and gid {deep_user.pw_gid} on this machine, which the "
        f"box of verify, run by uid {os.getuid()}, shows as nobody's, so what user {DEEP_USER} "
        "may do there is not known; run verify as root for a verdict")


@pytest.mark.skipif(not os.path.islink("/lib"), reason="needs a merged /usr (/lib a link)")
def test_hookbox_files_destination_through_a_top_level_link_keeps_programs_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a unit installed to /lib/systemd/system (a real appspec of the corpus): a plain user's
    # box copied that destination under the name /lib, which then hid the host's /lib and
    # its dynamic loader, so `su` (runas: root) failed with ENOENT; root's box ran it
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: /agentkit-t29.service\n"
            "    destination: /lib/systemd/system/\nhooks:\n  AfterInstall:\n"
            "    - location: events.sh\n      runas: root\n")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", spec, 0o644),
        ("agentkit-t29.service", "file", "[Service]\nExecStart=/bin/true\n", 0o644),
        ("events.sh", "file", "#!/bin/bash\nset -e\nid -un\n"
                              "test -f /lib/systemd/system/agentkit-t29.service\n", 0o755)])
    code = main(["verify", "--format", "json", str(arc)])
    out = json.loads(capsys.readouterr().out)
    # exit 1 for AK515 (Install writes through the link), the same as root and plain user
    assert (code, out["result"], out["error"]) == (1, "succeeded", None)
    assert [f["code"] for f in out["findings"]] == ["AK515"]
    event = next(e for e in out["events"] if e["name"] == "AfterInstall")
    assert [o["line"] for r in event["scripts"] for o in r["output"]] == ["root"]


@pytest.mark.skipif(not os.path.isdir("/usr/src"), reason="this machine has no /usr/src")
def test_hookbox_install_into_a_new_destination_in_a_root_owned_directory_is_shown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a box started before Install (BeforeInstall has a script): Install's /usr/src/NEW is
    # written into it, which a plain user's box was refused in root's /usr/src, so the
    # AfterInstall hook failed (and /usr/src was reported deleted) where root's succeeded
    dest = "/usr/src/agentkit-t29"
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: app\n"
            f"    destination: {dest}\nhooks:\n  BeforeInstall:\n    - location: before.sh\n"
            "  AfterInstall:\n    - location: after.sh\n")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("app/f", "file", "x\n", 0o644),
        ("before.sh", "file", "#!/bin/bash\ntrue\n", 0o755),
        ("after.sh", "file", f"#!/bin/bash\nset -e\ncat {dest}/f\n", 0o755)])
    code = main(["verify", "--format", "json", str(arc)])
    out = json.loads(capsys.readouterr().out)
    assert (code, out["result"], out["error"]) == (0, "succeeded", None)
    event = next(e for e in out["events"] if e["name"] == "AfterInstall")
    assert [o["line"] for r in event["scripts"] for o in r["output"]] == ["x"]
    assert sorted((c["path"], c["change"]) for c in out["changes"]) == [
        (dest, "created"), (f"{dest}/f", "created")]
    assert not os.path.exists(dest)
