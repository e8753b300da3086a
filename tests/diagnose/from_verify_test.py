"""Each diagnosis rule, from a failure reproduced by a bundle run through verify: the whole
cause, fix and evidence (the deployment's own directory written ARCHIVE/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from ..archives import appspec, tar
from .scenarios import SCENARIOS, Scenario

EXPECTED = {
    'AK800': (
        '`pm2` is not on the PATH the hook runs with: the agent runs each script as root with'
        ' its own minimal environment, or as the runas user through `su USER -c` '
        '(linux_util.rb#prepare_script_command), which reads no login profile, so what a '
        'login shell adds (nvm, rbenv, pm2 from npm -g, exports in ~/.bashrc or ~/.profile) '
        'is not there.',
        'Call it by its full path (`command -v pm2` in a login shell on the instance prints '
        'it) or set PATH at the top of the script (`export PATH=/usr/local/bin:$PATH`; for '
        'nvm, `. "$HOME/.nvm/nvm.sh"` first). `pm2` comes from npm (`npm install -g pm2`), so '
        'it lives beside the node that installed it (under ~/.nvm with nvm): call it by that '
        'full path, or install it globally with the system\'s node so it lands in /usr/bin or '
        '/usr/local/bin.',
        'ARCHIVE/s/run.sh: line 2: pm2: command not found'),
    'AK801': (
        "s/run.sh exited, but a process it started in the background still holds the script's"
        ' standard output or error open (a server started with `&` or nohup without '
        "redirecting its output): the agent waits for both streams to close until the hook's "
        'timeout, then fails the event (hook_executor.rb).',
        'Redirect all three streams of what you start in the background: `nohup ./server > '
        '/var/log/app.log 2>&1 < /dev/null &`; better, run it as a systemd service '
        "(`systemctl restart app`). Lower the hook's `timeout` too: without one the agent "
        'waits 3600 s before it says so.',
        'Script at specified location: s/run.sh failed to close STDOUT'),
    'AK807': (
        'ARCHIVE/s/helper.sh could not be executed (exit 126): it has no execute bit (zip '
        'archives and Windows checkouts lose it; git keeps it only when committed with mode '
        '100755), its file system is mounted noexec (/tmp on hardened AMIs), or a directory '
        'on its way may not be searched (an archive whose root directory is 0700). The agent '
        "makes a hook's own script executable before running it (hook_executor.rb), so for "
        'that file it is the mount or a directory; for a file the script calls, any of them.',
        'Commit it executable (`git update-index --chmod=+x FILE`, or `chmod +x` before '
        '`agentkit bundle`), or run it through its interpreter (`bash FILE`); keep programs '
        'off noexec mounts.',
        'ARCHIVE/s/run.sh: line 2: ARCHIVE/s/helper.sh: Permission denied'),
    'AK808': (
        "s/run.sh was still running after 1 s, the hook's timeout: something it waits for "
        'never came (a retry loop for a command or a port that never appears, a prompt '
        'waiting for input, a service that never starts), or the work takes longer. The agent'
        ' then sends SIGTERM to its process group (hook_executor.rb).',
        'Read its last lines of output for what it was waiting for; bound every wait '
        '(`timeout 60 CMD`, a loop with a count) so it fails with a message; raise `timeout` '
        'in appspec.yml (at most 3600) only when the work is really that long.',
        'Script at specified location: s/run.sh failed to complete in 1 seconds'),
    'AK809': (
        "`config/app.yml` is a relative path, and hooks do not run in the bundle's directory:"
        ' the agent starts each script without changing directory (hook_executor.rb runs it '
        'with Open3.popen3 and no :chdir), so '
        "relative paths are looked up in the agent's own working directory.",
        'Use the absolute paths of your `files` destination, or begin the script with `cd '
        '"$(dirname "$0")"` (its own directory in the deployment archive) before using paths '
        'relative to the bundle.',
        'cat: config/app.yml: No such file or directory'),
    'AK810': (
        'The check ran before the application was listening: it was started in '
        'ApplicationStart, and ValidateService began at once while it was still starting '
        '(curl exit 7: nothing listened on that port yet).',
        'Retry until it answers, within a deadline: `curl --fail --retry 30 '
        '--retry-connrefused --retry-delay 2 URL`, a loop, or `agentkit hook validate`. If it'
        ' never answers, the application did not start: read its log (`journalctl -u UNIT`).',
        "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to "
        'server'),
    'AK811': (
        's/run.sh has Windows line endings (CRLF): the shell reads the `\\r` as part of each '
        "command, and of the interpreter's name on the #! line.",
        "Convert it to LF (`sed -i 's/\\r$//' FILE` or `dos2unix`) and keep it so with `*.sh "
        'text eol=lf` in .gitattributes; `agentkit lint` reports CRLF scripts before '
        'deployment (AK504).',
        "ARCHIVE/s/run.sh: line 2: cd: $'/var/www/app\\r': No such file or directory"),
    'AK812': (
        'The program named on the first line of s/run.sh (#!) cannot be started: it is not '
        'installed on the instance (`#!/usr/bin/python` where only python3 exists, '
        "`#!/usr/bin/env node` without node on root's PATH), or the line ends in a Windows "
        "`\\r`, which makes the interpreter's name one that does not exist. The agent's "
        'message says No such file or directory for the script, though the script is there: '
        'the exec of its #! program fails (hook_executor.rb reports Errno::ENOENT).',
        'Point #! at an interpreter the AMI has (`#!/bin/bash`, `#!/usr/bin/env python3`) or '
        'install it; `head -1 FILE | od -c` shows a `\\r` if the file has CRLF line endings '
        "(convert with `sed -i 's/\\r$//' FILE`).",
        'Script at specified location: s/run.sh failed with error Errno::ENOENT with message '
        'No such file or directory - ARCHIVE/s/run.sh'),
    'AK815': (
        'A file system filled up while s/run.sh wrote to it.',
        'Free space on the instance (`df -h`; the agent keeps `:max_revisions:` old revisions'
        ' under /opt/codedeploy-agent/deployment-root, 5 by default; old logs) or grow the '
        'volume; `agentkit hook preflight` checks the free space before Install (`min_free: '
        '2x`).',
        'ARCHIVE/s/run.sh: line 2: echo: write error: No space left on device'),
    'AK816': (
        'A program that is running was overwritten in place (a cp over a binary that the old '
        'process still executes).',
        'Stop the application in ApplicationStop before Install, or write the new binary '
        'under another name and rename it over the old one (`install -T`, `mv`), or deploy '
        'releases with an atomic `current` (`agentkit hook release`).',
        "cp: cannot create regular file '/tmp/s': Text file busy"),
    'AK817': (
        'The new process could not listen: the port is still held, most often by the previous'
        " revision's process that ApplicationStop did not stop (or a copy started by hand).",
        'Stop the old process in ApplicationStop (`systemctl stop UNIT`, or kill the pid you '
        'recorded) and wait until the port is free; run the application as a systemd service,'
        ' so that a restart replaces it.',
        'OSError: [Errno 98] Address already in use'),
    'AK818': (
        'systemd has no unit shop-api.service: its unit file is not installed (the package or'
        " the bundle's .service file is missing), or it is named differently.",
        'Install the unit file (a `files` entry to /etc/systemd/system/, then `systemctl '
        'daemon-reload`) or the package that brings it, in the AMI; `systemctl '
        'list-unit-files` shows the exact names.',
        'Failed to restart shop-api.service: Unit shop-api.service not found.'),
    'AK819': (
        "The hook reached for the network, and verify's box has none unless asked: the "
        'instance probably has one, so this says nothing about the bundle yet.',
        "Run verify with --network to let hooks use this machine's network, or install the "
        'dependencies at build time (vendor them into the bundle) so Install needs no '
        'network.',
        'socket.gaierror: [Errno -3] Temporary failure in name resolution'),
}


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def _bundle(tmp_path: Path, sc: Scenario, name: str = "b.tgz") -> Path:
    hook = f"  {sc.event}:\n    - location: s/run.sh\n"
    hook += f"      timeout: {sc.timeout}\n" if sc.timeout else ""
    hook += f"      runas: {sc.runas}\n" if sc.runas else ""
    return tar(tmp_path / name, [
        ("appspec.yml", "file", appspec(tmp_path / "dest", hook), 0o644),
        ("s/run.sh", "file", sc.shebang + sc.body, 0o755),
        *((n, "file", c, m) for n, c, m in sc.extra)])


def _diagnoses(out: dict[str, Any]) -> list[list[str]]:
    root = (f"/opt/codedeploy-agent/deployment-root/{out['deployment_group_id']}/"
            f"{out['deployment_id']}/deployment-archive/")
    # curl says how long it tried ("after 0 ms"): on a loaded machine, more
    return [[d["code"], *(re.sub(r"after \d+ ms", "after 0 ms", d[k].replace(root, "ARCHIVE/"))
                          for k in ("cause", "fix", "evidence"))]
            for d in out["diagnoses"]]


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_from_verify_each_reproduced_failure_gets_its_cause_and_fix(
        code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = SCENARIOS[code]
    status, out = _verify(capsys, str(_bundle(tmp_path, sc)))
    assert (status, out["failed_event"]) == (1, sc.event), out["error"]
    assert _diagnoses(out) == [[code, *EXPECTED[code]]]
    assert {d["event"] for d in out["diagnoses"]} == {sc.event}
    assert {d["script"] for d in out["diagnoses"]} == {"s/run.sh"}


def test_from_verify_text_report_puts_cause_and_fix_under_the_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(_bundle(tmp_path, SCENARIOS["AK800"]))]) == 1
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("AK800 command-not-found: s/run.sh (AfterInstall)")
    fail = next(n for n, line in enumerate(lines) if line.startswith("The deployment would FAIL"))
    assert fail < at and all(line.startswith("  | ") for line in lines[fail + 2:at])
    assert lines[at + 1].endswith("s/run.sh: line 2: pm2: command not found")
    assert lines[at + 2:at + 4] == [f"  cause: {EXPECTED['AK800'][0]}",
                                    f"  fix: {EXPECTED['AK800'][1]}"]


def test_from_verify_junit_failure_starts_with_the_diagnosis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    report = tmp_path / "junit.xml"
    assert main(["verify", "--junit", str(report), str(_bundle(tmp_path, SCENARIOS["AK808"]))]) == 1
    capsys.readouterr()
    failure = ET.parse(report).find("testcase[@name='AfterInstall']/failure")
    assert failure is not None and failure.text is not None
    assert failure.text.splitlines()[:3] == [
        f"AK808 timed-out: {EXPECTED['AK808'][0]}", f"fix: {EXPECTED['AK808'][1]}",
        "evidence: Script at specified location: s/run.sh failed to complete in 1 seconds"]


def test_from_verify_install_conflict_says_what_file_exists_behavior_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest/index.html").write_text("put there by hand\n")
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(tmp_path / "dest"), 0o644),
                                   ("index.html", "file", "new\n", 0o644)])
    status, out = _verify(capsys, str(arc))
    assert (status, out["failed_event"]) == (1, "Install")
    assert _diagnoses(out) == [[
        "AK802",
        f"Install found {tmp_path}/dest/index.html already on the instance, and "
        "file_exists_behavior is DISALLOW (the default): the agent removes before Install "
        "only what the last successful deployment of this group installed (its cleanup "
        "file, deployment-instructions/<group id>-cleanup: installer.rb), so this file was "
        "put there by hand, by another deployment group, or by an earlier revision's hook.",
        "Say what Install does with such files: `file_exists_behavior: OVERWRITE` (replace) "
        "or `RETAIN` (keep) in appspec.yml, or --file-exists-behavior of create-deployment; or "
        "remove them in a BeforeInstall hook. Don't create files under a `files` destination "
        "from a hook: the next Install meets them.",
        out["error"]["message"]]]


UNSTICK = (
    "Deploy once with `--ignore-application-stop-failures` (the console's \"Don't fail the "
    "deployment if the ApplicationStop lifecycle event fails\"): the fixed script of this "
    "bundle is the one that runs next time. Or, on the instance, delete "
    "/opt/codedeploy-agent/deployment-root/deployment-instructions/<deployment group "
    "id>_last_successful_install, so that no old ApplicationStop runs.")
FROM_PREVIOUS = (
    "the agent runs ApplicationStop (and BeforeBlockTraffic, AfterBlockTraffic) from the last "
    "revision that deployed successfully to this instance, from its copy under the deployment "
    "root, not from this bundle (hook_executor.rb: the last successful install's appspec)")


def test_from_verify_previous_revisions_application_stop_and_how_to_unstick(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _bundle(tmp_path, Scenario("ApplicationStop", "echo stopping\nexit 3\n"), "old.tgz")
    new = _bundle(tmp_path, Scenario("AfterInstall", "echo fixed\n"), "new.tgz")
    status, out = _verify(capsys, "--previous", str(old), str(new))
    assert (status, out["failed_event"]) == (1, "ApplicationStop")
    assert _diagnoses(out) == [[
        "AK803", f"This ApplicationStop script is the previous revision's: {FROM_PREVIOUS}. "
        "Fixing it in this bundle does not help this deployment.", UNSTICK,
        "Script at specified location: s/run.sh failed with exit code 3"]]


def test_from_verify_runas_user_the_instance_lacks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = Scenario("AfterInstall", "echo hi\n", runas="shopdeploy")
    status, out = _verify(capsys, str(_bundle(tmp_path, sc)))
    assert (status, out["failed_event"]) == (1, "AfterInstall")
    assert _diagnoses(out) == [[
        "AK805", "The hook's runas user `shopdeploy` does not exist on this instance: the "
        "agent runs the script through `su shopdeploy -c` "
        "(linux_util.rb#prepare_script_command), and su finds no such user.",
        "Create the user in the AMI (or in an earlier hook run as root: `id -u shopdeploy "
        ">/dev/null 2>&1 || useradd --system shopdeploy`), or fix `runas` in appspec.yml; "
        "`agentkit hook preflight` checks the users the appspec names.",
        "su: user shopdeploy does not exist or the user entry does not contain all the "
        "required fields"]]


def test_from_verify_chown_refused_as_a_runas_user(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runas_users: tuple[str, ...]) -> None:
    sc = Scenario("AfterInstall", "touch /tmp/mine && chown root /tmp/mine\n",
                  runas=runas_users[0])
    status, out = _verify(capsys, str(_bundle(tmp_path, sc)))
    assert (status, out["failed_event"]) == (1, "AfterInstall"), out["error"]
    assert _diagnoses(out) == [[
        "AK814", "Root may not change /tmp/mine on its file system: NFS and EFS shares squash "
        "root to nobody (root_squash) and an EFS access point fixes every file's owner; or the "
        "file is immutable (chattr +i).",
        "Don't chown shared storage in a hook: set its ownership once on the storage side (the "
        "access point's POSIX user). `agentkit hook permissions` skips other mounts unless "
        "`cross_mounts: true`, and sums up what it may not change instead of failing.",
        "chown: changing ownership of '/tmp/mine': Operation not permitted"]]


def test_from_verify_su_inside_a_runas_hook(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runas_users: tuple[str, ...]) -> None:
    sc = Scenario("AfterInstall", "su -c true root\n", runas=runas_users[0])
    status, out = _verify(capsys, str(_bundle(tmp_path, sc)))
    assert (status, out["failed_event"]) == (1, "AfterInstall"), out["error"]
    assert [d[0] for d in _diagnoses(out)] == ["AK806"]
    assert _diagnoses(out)[0][1:3] == [
        "The script calls `su` while it runs as a user other than root: su asks for a "
        "password, and the agent gives scripts no terminal and closes their input "
        "(hook_executor.rb).",
        "Give that hook no runas (it then runs as root) and switch user only for the commands "
        "that need it (`runuser -u USER -- CMD`), or drop the su."]


def test_from_verify_sudo_wants_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runas_users: tuple[str, ...]) -> None:
    sc = Scenario("AfterInstall", "sudo true\n", runas=runas_users[0])
    status, out = _verify(capsys, str(_bundle(tmp_path, sc)))
    assert (status, out["failed_event"]) == (1, "AfterInstall"), out["error"]
    assert [d[0] for d in _diagnoses(out)] == ["AK813"]
    assert _diagnoses(out)[0][1:3] == [
        "sudo inside the hook wants a password or a terminal (`Defaults requiretty`), and the "
        "agent runs scripts with neither.",
        "Hooks run as root unless `runas` says otherwise: drop the sudo. For a runas user, "
        "allow exactly the commands it needs with NOPASSWD in /etc/sudoers.d/, without "
        "requiretty."]


def test_from_verify_a_succeeding_deployment_has_no_diagnosis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _verify(capsys, str(_bundle(tmp_path, Scenario("AfterInstall", "echo ok\n"))))
    assert (status, out["diagnoses"]) == (0, [])

