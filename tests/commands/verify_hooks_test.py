"""verify part 2: hooks run as the agent runs them, in a sandbox the host never feels."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentkit import __version__
from agentkit.cli import main
from agentkit.verify import box_programs, hookbox

from ..archives import appspec, script, tar

pytestmark = pytest.mark.skipif(hookbox.unavailable() is not None,
                                reason=f"no hook sandbox here: {hookbox.unavailable()}")


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def event(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in out["events"] if e["name"] == name)


def _bundle(tmp: Path, hooks: str, scripts: dict[str, str], dest: Path | None = None) -> Path:
    members = [("appspec.yml", "file", appspec(dest or tmp / "app", hooks), 0o644)]
    members += [(name, "file", body, 0o755) for name, body in scripts.items()]
    return tar(tmp / "b.tgz", members)


def test_hostile_hooks_leave_the_host_unchanged(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # (in the files destination: the box shows this machine's files there, and no other
    # of TMPDIR's)
    victim = tmp_path / "app" / "victim"
    victim.mkdir(parents=True)
    (victim / "data").write_text("precious")
    # a host process only this test owns: the hook goes for it by its pid (from a pid file)
    # and by its exact command line, never by a name other processes of this machine share
    marker = f"{30 + os.getpid() % 997 / 1000:.3f}"
    sleeper = subprocess.Popen(["sleep", marker])
    (tmp_path / "app" / "sleeper.pid").write_text(f"{sleeper.pid}\n")
    try:
        body = (f"rm -rf {victim}\necho owned > /etc/agentkit-hostile\n"
                f"kill -9 $(cat {tmp_path}/app/sleeper.pid) || true\n"
                f"pkill -9 -f -x 'sleep {marker}' || true\n"
                "systemctl stop agentkit-no-such-unit.service 2>&1 || true\nls /run\necho done\n")
        arc = _bundle(tmp_path, "  AfterInstall:\n    - location: evil.sh\n",
                      {"evil.sh": script(body)})
        code, out = verify(capsys, str(arc))
        assert code == 0
        assert (victim / "data").read_text() == "precious"
        assert not os.path.exists("/etc/agentkit-hostile")
        assert sleeper.poll() is None  # the host process is still alive
        changes = {c["path"]: c["change"] for c in out["changes"]}
        assert changes[str(victim)] == "deleted"
        assert changes["/etc/agentkit-hostile"] == "created"
        output = [o["line"] for o in event(out, "AfterInstall")["scripts"][0]["output"]]
        assert output[-1] == "done"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sandboxed_hook_timeout_leaves_no_process(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    marker = f"{80 + os.getpid() % 997 / 1000:.3f}"
    body = f"trap '' TERM\nsleep {marker} &\nsetsid sleep {marker} &\nsleep {marker}\n"
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: slow.sh\n      timeout: 1\n",
                  {"slow.sh": script(body)})
    start = time.monotonic()
    code, out = verify(capsys, str(arc))
    assert time.monotonic() - start < 15
    assert code == 1
    assert out["error"]["error_code"] == "SCRIPT_TIMED_OUT"
    assert out["error"]["message"] == ("Script at specified location: slow.sh failed to complete "
                                       "in 1 seconds")
    assert out["error"]["script"] == "slow.sh"
    assert all(p.info["cmdline"] != ["sleep", marker]
               for p in psutil.process_iter(["cmdline"]))


def test_sandboxed_daemon_keeping_stdout_open(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  ApplicationStart:\n    - location: start.sh\n      timeout: 1\n",
                  {"start.sh": script("sleep 30 &\necho started\n")})
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert out["failed_event"] == "ApplicationStart"
    assert out["error"]["error_code"] == "OUTPUTS_LEFT_OPEN"
    assert out["error"]["message"] == ("Script at specified location: start.sh failed to close "
                                       "STDOUT")
    assert out["error"]["log_tail"] == "Script - start.sh\n[stdout]started\n"


def test_hooks_get_the_agent_environment(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    body = ('echo "$LIFECYCLE_EVENT|$APPLICATION_NAME|$DEPLOYMENT_GROUP_NAME|'
            '$DEPLOYMENT_GROUP_ID|$BUNDLE_BUCKET|$BUNDLE_KEY"\necho "$DEPLOYMENT_ID"\npwd\n'
            'ls /opt/codedeploy-agent/deployment-root/dg-9/"$DEPLOYMENT_ID"/deployment-archive\n')
    arc = _bundle(tmp_path, "  BeforeInstall:\n    - location: env.sh\n", {"env.sh": script(body)})
    code, out = verify(capsys, "--application-name", "shop", "--deployment-group-name", "web",
                       "--deployment-group", "dg-9", "--s3", "s3://bkt/rel/app.tgz", str(arc))
    assert code == 0
    lines = [o["line"] for o in event(out, "BeforeInstall")["scripts"][0]["output"]]
    assert lines[0] == "BeforeInstall|shop|web|dg-9|bkt|rel/app.tgz"
    assert lines[1] == out["deployment_id"] and lines[1].startswith("d-")
    assert lines[2] == "/"
    assert "appspec.yml" in lines[3:]


def test_hooks_have_no_network_unless_asked(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        body = (f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)'"
                " && echo reached || echo unreachable\n")
        arc = _bundle(tmp_path, "  AfterInstall:\n    - location: net.sh\n",
                      {"net.sh": script(body)})
        _, out = verify(capsys, str(arc))
        lines = [o["line"] for o in event(out, "AfterInstall")["scripts"][0]["output"]]
        assert lines[-1] == "unreachable"
        _, out = verify(capsys, "--network", str(arc))
        lines = [o["line"] for o in event(out, "AfterInstall")["scripts"][0]["output"]]
        assert lines[-1] == "reached"


def test_before_install_writes_are_seen_by_install(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(dest, "  BeforeInstall:\n    - location: clean.sh\n"),
         0o644), ("clean.sh", "file", script(f"rm -f {dest}/index.html\n"), 0o755),
        ("index.html", "file", "new", 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    assert (dest / "index.html").read_text() == "old"


def test_hooks_skip_and_events_subset(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: a.sh\n"
                            "  ValidateService:\n    - location: a.sh\n", {"a.sh": script()})
    _, out = verify(capsys, "--hooks", "skip", str(arc))
    assert event(out, "AfterInstall")["status"] == "skipped"
    assert event(out, "AfterInstall")["note"] == ("AfterInstall has scripts; hooks are not run "
                                                  "(--hooks skip)")
    _, out = verify(capsys, "--events", "AfterInstall", str(arc))
    assert [e["name"] for e in out["events"]] == ["DownloadBundle", "Install", "AfterInstall"]


def test_hooks_host_mode_runs_for_real(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "really-ran"
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: a.sh\n",
                  {"a.sh": script(f"touch {marker}\n")})
    code, _ = verify(capsys, "--hooks", "host", str(arc))
    assert code == 0
    assert marker.exists()


def test_failed_script_log_tail_and_exit_code(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  ValidateService:\n    - location: v.sh\n",
                  {"v.sh": script("echo checking\necho 'HTTP 503' >&2\nexit 7\n")})
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert out["error"]["message"] == "Script at specified location: v.sh failed with exit code 7"
    assert out["error"]["log_tail"].startswith("Script - v.sh\n")
    assert "[stderr]HTTP 503\n" in out["error"]["log_tail"]


def test_sandboxed_runas_real_users(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    runas_users: tuple[str, str]) -> None:
    ok, nologin = runas_users
    hooks = (f"  AfterInstall:\n    - location: who.sh\n      runas: {ok}\n"
             f"  ApplicationStart:\n    - location: who.sh\n      runas: {nologin}\n")
    arc = _bundle(tmp_path, hooks, {"who.sh": script("id -un\n")})
    code, out = verify(capsys, str(arc))
    assert code == 1
    after = event(out, "AfterInstall")["scripts"][0]
    assert (after["error_code"], after["output"]) == (
        "SUCCEEDED", [{"stream": "stdout", "line": ok}])
    assert out["error"]["message"] == (f"Script at specified location: who.sh run as user "
                                       f"{nologin} failed with exit code 1")
    start = event(out, "ApplicationStart")["scripts"][0]
    assert start["output"] == [{"stream": "stdout",
                                "line": "This account is currently not available."}]


def test_sandboxed_runas_user_runs_verify_s_own_agentkit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        runas_users: tuple[str, str]) -> None:
    # verify's venv and checkout may sit where the runas user may not go (a 0700 home or CI
    # directory, a pyenv under /root): the box's agentkit still runs for that user, with
    # its libraries (lint imports PyYAML)
    ok, _ = runas_users
    calls = script("agentkit --version\ncd \"$(mktemp -d)\"\n"
                   "printf 'version: 0.0\\nos: linux\\n' > a.yml\n"
                   "PYTHONPATH=/nowhere agentkit lint a.yml\nid -un\n")
    # and root of the box writes into what is shown at CLI_DIR: the overlays take it
    write = script(f"for d in {box_programs.CLI_DIR}/*/ {box_programs.CLI_DIR}/src/agentkit/; "
                   'do [ -d "$d" ] && touch "$d/agentkit-written"; done; true\n')
    arc = _bundle(tmp_path, f"  AfterInstall:\n    - location: calls.sh\n      runas: {ok}\n"
                  "    - location: write.sh\n", {"calls.sh": calls, "write.sh": write})
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    _, trees, _ = box_programs.agentkit_command()
    assert [host for _, host in trees
            if os.path.exists(os.path.join(host, "agentkit-written"))] == []
    lines = [o["line"] for o in event(out, "AfterInstall")["scripts"][0]["output"]]
    assert event(out, "AfterInstall")["scripts"][1]["error_code"] == "SUCCEEDED"
    assert lines == [f"agentkit {__version__}",
                     "a.yml: agent 1.x accepts this appspec (0 error(s), 0 warning(s))",
                     "1 file(s) checked: 0 error(s), 0 warning(s)", ok]


def test_text_report_shows_the_console_tail(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  ValidateService:\n    - location: v.sh\n",
                  {"v.sh": script("echo 'curl: (7) Failed to connect' >&2\nexit 7\n")})
    assert main(["verify", str(arc)]) == 1
    text = capsys.readouterr().out
    assert ("The deployment would FAIL in ValidateService (SCRIPT_FAILED): Script at specified "
            "location: v.sh failed with exit code 7\n"
            "What the CodeDeploy console would show (end of the script's log):\n"
            "  | Script - v.sh\n"
            "  | [stderr]curl: (7) Failed to connect\n") in text
    assert text.endswith("\n1 error(s): the deployment failing in ValidateService, "
                         "0 warning(s)\n")


def test_text_report_last_line_counts_the_failure_and_the_findings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: a.sh\n",
                  {"a.sh": "#!/bin/sh\r\nexit 0\n"})  # AK504: the agent's misleading ENOENT
    assert main(["verify", str(arc)]) == 1
    text = capsys.readouterr().out
    assert "The deployment would FAIL in AfterInstall" in text
    assert text.endswith("\n2 error(s): the deployment failing in AfterInstall and 1 error "
                         "finding(s), 0 warning(s)\n")


def test_hooks_fifos_in_the_agents_own_files_never_hang_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a hook makes the cleanup file and the last-successful marker FIFOs: verify read the
    # first with open() and wrote it with open("w"), and blocked for good
    hooks = "  BeforeInstall:\n    - location: fifo.sh\n"
    arc = _bundle(tmp_path, hooks, {"fifo.sh": (
        "d=/opt/codedeploy-agent/deployment-root/deployment-instructions\nmkdir -p $d\n"
        "for f in ${DEPLOYMENT_GROUP_ID}-cleanup ${DEPLOYMENT_GROUP_ID}_last_successful_install"
        "; do rm -f $d/$f; mkfifo $d/$f; done\n")})
    start = time.monotonic()
    code, out = verify(capsys, str(arc))
    assert time.monotonic() - start < 60
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert ("the cleanup file of the previous revision was a FIFO (a hook made it): the agent "
            "would block on it or read a device; verify did not read it") in out["notes"]
