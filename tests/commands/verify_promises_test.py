"""README promises of `agentkit verify` that no other test holds it to, each on a real archive:
the archive findings AK404, AK503 and AK514, `--type` as the agent's DownloadBundle reads it,
the Install marker that lets a later-failed revision provide ApplicationStop, `sudo: true`,
the box's /dev and /run as hooks see them, and the one note when no box can be made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.box.client import why_unavailable
from agentkit.cli import main

from ..archives import appspec, script, tar, zip_
from ..conftest import requires_root

DOWNLOAD_FAILED = "Error extracting tar archive: 2"
needs_box = pytest.mark.skipif(why_unavailable() is not None,
                               reason=f"no hook box here: {why_unavailable()}")


@pytest.fixture(autouse=True)
def _own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """verify's throw-away root (and a crash log, were there one) in this test's tmp_path."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def event(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in out["events"] if e["name"] == name)


def ran(out: dict[str, Any], name: str) -> list[tuple[str, str, list[str]]]:
    """Each script of the event: location, error code, output lines."""
    return [(s["location"], s["error_code"], [o["line"] for o in s["output"]])
            for s in event(out, name)["scripts"]]


def gnu_tar_status(archive: Path, into: Path, *flags: str) -> int | None:
    """The agent's own extractor on the same archive (None: no GNU tar here)."""
    tar_bin = shutil.which("tar")
    if tar_bin is None:
        return None
    into.mkdir()
    return subprocess.run([tar_bin, *flags, "-f", str(archive), "-C", str(into)],
                          capture_output=True, check=False).returncode


# --- AK404: hard links --------------------------------------------------------------------


def test_verify_hard_link_before_its_target_fails_download_bundle_1x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(tmp_path / "app"), 0o644),
                                   ("early", "hardlink", "late", 0o644),
                                   ("late", "file", "x", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 1
    assert out["findings"] == [{
        "severity": "error", "code": "AK404", "path": f"{arc}:early", "line": None,
        "column": None,
        "message": "hard link 'early' -> 'late' does not point at a file extracted before it; "
                   "GNU tar refuses it and exits 2, so the deployment fails in DownloadBundle",
        "hint": "archive the file itself", "agent_message": DOWNLOAD_FAILED}]
    assert (out["result"], out["failed_event"]) == ("failed", "DownloadBundle")
    assert out["error"] == {"event": "DownloadBundle", "error_code": "UNKNOWN_ERROR",
                            "message": DOWNLOAD_FAILED, "script": None, "log_tail": ""}
    assert event(out, "Install")["status"] == "skipped"
    status = gnu_tar_status(arc, tmp_path / "by-tar", "-x", "-z", "-p", "-s")
    assert status in (None, 2)  # what the agent's `tar -zxpsf` says of it: exit 2


def test_verify_hard_link_before_its_target_is_dropped_by_2x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("early", "hardlink", "late", 0o644),
                                   ("late", "file", "x", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", "--agent", "2", str(arc))
    assert code == 0
    assert out["findings"] == [{
        "severity": "warning", "code": "AK404", "path": f"{arc}:early", "line": None,
        "column": None,
        "message": "hard link 'early' -> 'late' does not point at a file extracted before it; "
                   "agent 2.x's fallback drops it and the deployment goes on without it",
        "hint": "archive the file itself", "agent_message": None}]
    assert out["result"] == "succeeded"
    assert sorted(n["path"] for n in out["tree"]) == [str(dest), f"{dest}/appspec.yml",
                                                      f"{dest}/late"]


def test_verify_hard_link_after_its_target_is_no_finding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("late", "file", "x", 0o644),
                                   ("early", "hardlink", "late", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert (code, out["findings"], out["result"]) == (0, [], "succeeded")
    tree = {n["path"]: (n["type"], n["sha256"]) for n in out["tree"]}
    assert tree[f"{dest}/early"] == tree[f"{dest}/late"] == ("file", tree[f"{dest}/late"][1])
    assert tree[f"{dest}/early"][1] is not None


# --- AK503: the shebang's interpreter -------------------------------------------------------


def test_verify_shebang_interpreter_missing_here_warns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = ("  AfterInstall:\n    - location: bin/migrate.rb\n"
             "  ApplicationStart:\n    - location: bin/start.sh\n"
             "  ValidateService:\n    - location: bin/check.py\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", hooks), 0o644),
        ("bin/migrate.rb", "file", "#!/opt/no-such-ruby-ak/bin/ruby -w\nputs 1\n", 0o755),
        ("bin/start.sh", "file", "#!/bin/sh\necho start\n", 0o755),
        ("bin/check.py", "file", "#!/usr/bin/env python3\nprint(1)\n", 0o755)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0  # a warning: the instance may well have it
    assert out["findings"] == [{
        "severity": "warning", "code": "AK503", "path": "bin/migrate.rb", "line": 1,
        "column": 3,
        "message": "hooks > AfterInstall > bin/migrate.rb: interpreter /opt/no-such-ruby-ak/bin/"
                   "ruby does not exist on this machine",
        "hint": "make sure the instance has it, or use #!/usr/bin/env NAME",
        "agent_message": None}]


@needs_box
def test_verify_shebang_interpreter_missing_fails_the_hook_as_enoent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # run here, the script fails as the agent's Open3 fails on such a host: ENOENT naming it
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app",
                                        "  AfterInstall:\n    - location: m.rb\n"), 0o644),
        ("m.rb", "file", "#!/opt/no-such-ruby-ak/bin/ruby\nputs 1\n", 0o755)])
    code, out = verify(capsys, "--deployment-group", "dg-1", str(arc))
    assert code == 1
    assert [f["code"] for f in out["findings"]] == ["AK503"]
    assert out["error"]["message"] == (
        "Script at specified location: m.rb failed with error Errno::ENOENT with message No "
        f"such file or directory - /opt/codedeploy-agent/deployment-root/dg-1/"
        f"{out['deployment_id']}/deployment-archive/m.rb")
    assert ran(out, "AfterInstall") == [("m.rb", "SCRIPT_FAILED", [])]


# --- AK514: shared storage copied into the archive --------------------------------------------


def _uploads(count: int) -> list[Any]:
    return [(f"public/uploads/{i // 100}/f{i}.jpg", "file", "x", 0o644) for i in range(count)]


def test_verify_big_uploads_directory_warns_once(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # 1,000 files under public/uploads: one warning for it, none for media/ inside it
    members = [("appspec.yml", "file", appspec(tmp_path / "app"), 0o644), *_uploads(990),
               *[(f"public/uploads/media/m{i}", "file", "m", 0o644) for i in range(10)],
               *[(f"public/css/c{i}.css", "file", "c", 0o644) for i in range(1200)]]
    code, out = verify(capsys, "--hooks", "skip", str(tar(tmp_path / "b.tgz", members)))
    assert code == 0
    assert out["findings"] == [{
        "severity": "warning", "code": "AK514", "path": "public/uploads", "line": None,
        "column": None,
        "message": "public/uploads/ holds 1000 files: it looks like shared storage that was "
                   "copied into the archive",
        "hint": "keep it on the share and link it into the release (agentkit hook "
                "link-shared, shared.dirs)", "agent_message": None}]


def test_verify_uploads_directory_below_the_threshold_is_no_finding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = [("appspec.yml", "file", appspec(tmp_path / "app"), 0o644), *_uploads(999)]
    code, out = verify(capsys, "--hooks", "skip", str(tar(tmp_path / "b.tgz", members)))
    assert (code, out["findings"]) == (0, [])


def test_verify_no_install_still_counts_the_uploads(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # --no-install writes only the appspec and the scripts: the count is the archive's
    members = [("appspec.yml", "file", appspec(tmp_path / "app"), 0o644), *_uploads(1000)]
    code, out = verify(capsys, "--no-install", str(tar(tmp_path / "b.tgz", members)))
    assert code == 0
    assert [(f["code"], f["path"], f["message"]) for f in out["findings"]] == [
        ("AK514", "public/uploads", "public/uploads/ holds 1000 files: it looks like shared "
         "storage that was copied into the archive")]


# --- --type: what CodeDeploy is told the bundle is ------------------------------------------


def _members(dest: Path) -> list[Any]:
    return [("appspec.yml", "file", appspec(dest), 0o644), ("a.txt", "file", "a", 0o600)]


@pytest.mark.parametrize(("kind", "declared", "message", "hint", "agent_message", "tar_flags"), [
    ("zip", "tgz", "declared as a tgz bundle, but the file is zip, not a tar archive",
     "upload it with bundle type zip, or build the archive the type says", DOWNLOAD_FAILED,
     ("-x", "-z", "-p", "-s")),
    ("tar", "tgz", "declared as a tgz bundle, but the file is not gzip-compressed (tar -z "
     "refuses it)", "upload it with bundle type tar, or build the archive the type says",
     DOWNLOAD_FAILED, ("-x", "-z", "-p", "-s")),
    ("tgz", "zip", "declared as a zip bundle, but the file is gzip; unzip fails and the "
     "agent's rubyzip fallback too", "upload it with bundle type tgz",
     "Zip end of central directory signature not found", None),
], ids=["zip-as-tgz", "tar-as-tgz", "tgz-as-zip"])
def test_verify_type_that_does_not_match_fails_download_bundle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, declared: str,
        message: str, hint: str, agent_message: str, tar_flags: tuple[str, ...] | None) -> None:
    members = _members(tmp_path / "app")
    arc = (zip_(tmp_path / "b.zip", members) if kind == "zip" else
           tar(tmp_path / f"b.{kind}", members, gz=kind == "tgz"))
    code, out = verify(capsys, "--hooks", "skip", "--type", declared, str(arc))
    assert code == 1
    assert out["findings"] == [{"severity": "error", "code": "AK400", "path": str(arc),
                                "line": None, "column": None, "message": message, "hint": hint,
                                "agent_message": agent_message}]
    assert (out["result"], out["failed_event"], out["error"]["message"]) == (
        "failed", "DownloadBundle", agent_message)
    assert out["tree"] == []
    if tar_flags is not None:  # the agent's own `tar -zxpsf` on it
        assert gnu_tar_status(arc, tmp_path / "by-tar", *tar_flags) in (None, 2)


def test_verify_gzip_declared_tar_works_as_gnu_tar_detects_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    arc = tar(tmp_path / "b.tgz", _members(dest))
    code, out = verify(capsys, "--hooks", "skip", "--type", "tar", str(arc))
    assert (code, out["result"], out["findings"]) == (0, "succeeded", [])
    assert [(n["path"], n["type"], n["mode"]) for n in out["tree"]] == [
        (str(dest), "dir", "0755"), (f"{dest}/a.txt", "file", "0600"),
        (f"{dest}/appspec.yml", "file", "0644")]
    assert gnu_tar_status(arc, tmp_path / "by-tar", "-x", "-p", "-s") in (None, 0)


def test_verify_type_directory_copies_as_cp_r(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # codedeploy-local --type directory: no top-level strip, modes less the umask 022
    dest = tmp_path / "app"
    bundle = tmp_path / "bundle"
    (bundle / "release").mkdir(parents=True)
    (bundle / "appspec.yml").write_text(appspec(dest))
    (bundle / "release/run.sh").write_text("#!/bin/sh\n")
    os.chmod(bundle / "release/run.sh", 0o777)
    os.chmod(bundle / "release", 0o700)
    code, out = verify(capsys, "--hooks", "skip", "--type", "directory", str(bundle))
    assert (code, out["result"], out["findings"]) == (0, "succeeded", [])
    assert [(n["path"], n["type"], n["mode"]) for n in out["tree"]] == [
        (str(dest), "dir", "0755"), (f"{dest}/appspec.yml", "file", "0644"),
        (f"{dest}/release", "dir", "0755"), (f"{dest}/release/run.sh", "file", "0755")]


def test_verify_type_directory_of_a_file_is_one_clean_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "b.tgz", _members(tmp_path / "app"))
    assert main(["verify", "--type", "directory", str(arc)]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "", f"agentkit: error: {arc}: --type directory needs a directory.\n")


# --- history: the Install marker --------------------------------------------------------------


def _revision(tmp: Path, name: str, extra_hooks: str = "", extra: tuple[Any, ...] = ()
              ) -> Path:
    hooks = "  ApplicationStop:\n    - location: stop.sh\n" + extra_hooks
    return tar(tmp / f"{name}.tgz", [
        ("appspec.yml", "file", appspec(tmp / "app", hooks), 0o644),
        ("stop.sh", "file", script(f"echo stop from {name}\n"), 0o755), *extra])


@needs_box
def test_verify_revision_failed_after_install_provides_application_stop(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A installs, then fails in AfterInstall: the marker written at the end of its Install
    # makes it the last successful revision, so B's ApplicationStop runs A's stop.sh
    state = tmp_path / "state"
    a = _revision(tmp_path, "A", "  AfterInstall:\n    - location: fail.sh\n",
                  (("fail.sh", "file", script("exit 3\n"), 0o755),))
    code, out = verify(capsys, "--state-dir", str(state), str(a))
    assert (code, out["failed_event"], out["error"]["message"]) == (
        1, "AfterInstall", "Script at specified location: fail.sh failed with exit code 3")
    assert event(out, "Install")["status"] == "succeeded"
    code, out = verify(capsys, "--state-dir", str(state), str(_revision(tmp_path, "B")))
    assert code == 0, out["error"]
    stop = event(out, "ApplicationStop")
    assert (stop["status"], stop["revision"]) == ("succeeded", "previous")
    assert ran(out, "ApplicationStop") == [("stop.sh", "SUCCEEDED", ["stop from A"])]


@needs_box
def test_verify_revision_failed_before_install_provides_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Base succeeds; C fails in BeforeInstall, before Install writes the marker: the next
    # revision's ApplicationStop still runs Base's script, never C's
    state = tmp_path / "state"
    assert verify(capsys, "--state-dir", str(state), str(_revision(tmp_path, "Base")))[0] == 0
    c = _revision(tmp_path, "C", "  BeforeInstall:\n    - location: fail.sh\n",
                  (("fail.sh", "file", script("exit 4\n"), 0o755),))
    code, out = verify(capsys, "--state-dir", str(state), str(c))
    assert (code, out["failed_event"]) == (1, "BeforeInstall")
    assert ran(out, "ApplicationStop") == [("stop.sh", "SUCCEEDED", ["stop from Base"])]
    code, out = verify(capsys, "--state-dir", str(state), str(_revision(tmp_path, "D")))
    assert code == 0, out["error"]
    assert ran(out, "ApplicationStop") == [("stop.sh", "SUCCEEDED", ["stop from Base"])]


@needs_box
def test_verify_first_revision_has_no_application_stop_to_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, "--state-dir", str(tmp_path / "state"),
                       str(_revision(tmp_path, "A")))
    assert code == 0, out["error"]
    assert event(out, "ApplicationStop") == {
        "name": "ApplicationStop", "status": "succeeded", "revision": "previous",
        "scripts": [], "note": "no earlier successful revision of this deployment group: "
                               "nothing to run"}


# --- sudo: true -----------------------------------------------------------------------------


SUDO_HOOK = "  AfterInstall:\n    - location: who.sh\n      sudo: true\n"
WHO = script('id -u\necho "SUDO_USER=$SUDO_USER"\necho "SUDO_COMMAND=$SUDO_COMMAND"\n')


@needs_box
@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed here: the "
                    "agent's `sudo <script>` has nothing to run (its absence is the next test)")
def test_verify_sudo_hook_runs_the_script_through_sudo(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", SUDO_HOOK), 0o644),
        ("who.sh", "file", WHO, 0o755)])
    code, out = verify(capsys, "--deployment-group", "dg-1", str(arc))
    if os.geteuid() != 0:
        # a plain user's box cannot read the host's root-only /etc/sudoers, which the
        # instance's root can: not a predicted failure, but no verdict
        assert (code, out["result"]) == (4, "undetermined")
        assert out["undetermined"] == (
            "who.sh was refused /etc/sudoers (`sudo: unable to open /etc/sudoers: Permission "
            "denied`); it is owned by uid 0 on this machine, which verify, run by uid "
            f"{os.geteuid()}, may not change in its box. On an instance the hook runs as root "
            "and would not meet this; run verify as root for a verdict")
        return
    assert code == 0, out["error"]
    path = (f"/opt/codedeploy-agent/deployment-root/dg-1/{out['deployment_id']}/"
            "deployment-archive/who.sh")
    assert ran(out, "AfterInstall") == [
        ("who.sh", "SUCCEEDED", ["0", "SUDO_USER=root", f"SUDO_COMMAND={path}"])]


@needs_box
@requires_root
@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed here: the "
                    "agent's `sudo su USER -c <script>` has nothing to run")
def test_verify_sudo_hook_with_runas_runs_su_under_sudo(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        runas_users: tuple[str, str]) -> None:
    user = runas_users[0]
    hooks = f"  AfterInstall:\n    - location: who.sh\n      runas: {user}\n      sudo: true\n"
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", hooks), 0o644),
        ("who.sh", "file", script('id -un\necho "SUDO_USER=$SUDO_USER"\n'), 0o755)])
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    assert ran(out, "AfterInstall") == [("who.sh", "SUCCEEDED", [user, "SUDO_USER=root"])]


@needs_box
@pytest.mark.skipif(shutil.which("sudo") is not None,
                    reason="sudo is installed here: the previous test runs instead")
def test_verify_sudo_hook_without_sudo_fails_as_the_agent_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Ruby's Open3.popen3("sudo <script>") on a host without sudo: Errno::ENOENT "- sudo"
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", SUDO_HOOK), 0o644),
        ("who.sh", "file", WHO, 0o755)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert out["error"]["message"] == ("Script at specified location: who.sh failed with error "
                                       "Errno::ENOENT with message No such file or directory - "
                                       "sudo")


# --- the box's /dev and /run ----------------------------------------------------------------


DEVICES = r"""echo dev: $(ls -A /dev)
echo run: $(ls -A /run)
stat -c '%n %a' /dev /dev/shm /run
echo x > /dev/null && echo "null: written"
echo "zero: $(head -c 3 /dev/zero | wc -c) bytes"
echo "urandom: $(head -c 16 /dev/urandom | wc -c) bytes"
echo x 2>/dev/null > /dev/full || echo "full: ENOSPC"
echo shm > /dev/shm/agentkit-f && echo "shm: $(cat /dev/shm/agentkit-f)"
echo run > /run/agentkit-f && echo "run file: $(cat /run/agentkit-f)"
if [ ! -e /dev/kmsg ]; then echo "kmsg: absent"
elif head -c 1 /dev/kmsg >/dev/null 2>&1; then echo "kmsg: READABLE"
else echo "kmsg: unreadable"; fi
touch /dev/agentkit-new 2>/dev/null && echo "dev: WRITABLE" || echo "dev: read-only"
"""


@needs_box
def test_verify_box_dev_and_run_as_hooks_see_them(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app",
                                        "  AfterInstall:\n    - location: dev.sh\n"), 0o644),
        ("dev.sh", "file", script(DEVICES), 0o755)])
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    ((_, error_code, lines),) = ran(out, "AfterInstall")
    assert error_code == "SUCCEEDED"
    kmsg = next(line for line in lines if line.startswith("kmsg: "))
    assert kmsg in ("kmsg: absent", "kmsg: unreadable")
    assert [line for line in lines if line != kmsg] == [
        # the devices the README names, devpts' ptmx and pts, the usual fd links, nothing else
        "dev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
        "run: lock",  # a fresh tmpfs; /run/lock as a booted instance has it
        "/dev 755", "/dev/shm 1777", "/run 755",
        "null: written", "zero: 3 bytes", "urandom: 16 bytes", "full: ENOSPC",
        "shm: shm", "run file: run", "dev: read-only"]
    assert not os.path.exists("/run/agentkit-f")
    assert not os.path.exists("/dev/shm/agentkit-f")
    assert not os.path.exists("/dev/agentkit-new")


@needs_box
def test_verify_box_run_lock_is_world_writable_as_on_an_instance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # systemd-tmpfiles gives /run/lock 1777: any runas user may take a lock file there
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app",
                                        "  AfterInstall:\n    - location: lock.sh\n"), 0o644),
        ("lock.sh", "file", script("stat -c '%n %a %U' /run/lock\n"), 0o755)])
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    assert ran(out, "AfterInstall") == [("lock.sh", "SUCCEEDED", ["/run/lock 1777 root"])]


# --- no box on this machine -------------------------------------------------------------------


NO_USERNS = ("user namespaces are disabled (user.max_user_namespaces = 0): sysctl -w "
             "user.max_user_namespaces=15000")


def _without_user_namespaces(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """verify run where no box can be made: a user namespace whose own limit is 0, as on a
    machine with user.max_user_namespaces=0."""
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app",
                                        "  AfterInstall:\n    - location: a.sh\n"), 0o644),
        ("a.sh", "file", script(), 0o755)])
    argv = " ".join([sys.executable, "-m", "agentkit", "verify", *args, str(arc)])
    inner = f"echo 0 > /proc/sys/user/max_user_namespaces && exec {argv}"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    done = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", inner],
                          capture_output=True, text=True, check=False, env=env)
    if "unshare failed" in done.stderr:
        pytest.skip(f"no user namespace for the test itself: {done.stderr.strip()}")
    return done


@needs_box
def test_verify_without_a_box_says_so_in_one_note(tmp_path: Path) -> None:
    done = _without_user_namespaces(tmp_path)
    assert (done.returncode, done.stderr) == (4, "")
    lines = done.stdout.splitlines()
    notes = [line for line in lines if line.startswith("note: ")]
    assert notes == [f"note: hooks not run here: {NO_USERNS}. The Install verdict stands; use "
                     "--hooks host on a disposable machine"]
    assert [line.split()[:4] for line in lines if line.split()[:1] == ["AfterInstall"]] == [
        ["AfterInstall", "not", "run", "here"]]
    assert [line.split()[:2] for line in lines if line.split()[:1] == ["Install"]] == [
        ["Install", "succeeded"]]
    assert (f"The deployment would not fail in what verify ran (hooks were not run: "
            f"{NO_USERNS}).") in lines
    assert os.listdir(tmp_path / "tmp") == []  # no crash log, no throw-away root left


@needs_box
def test_verify_without_a_box_json_has_the_one_note(tmp_path: Path) -> None:
    done = _without_user_namespaces(tmp_path, "--format", "json")
    assert done.returncode == 4, done.stderr
    out = json.loads(done.stdout)
    assert out["notes"] == [f"hooks not run here: {NO_USERNS}. The Install verdict stands; use "
                            "--hooks host on a disposable machine"]
    assert event(out, "AfterInstall")["note"] == (f"AfterInstall has scripts; not run here: "
                                                  f"{NO_USERNS}")
