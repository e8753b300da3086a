"""verify against behaviours of the real agent that it used to get wrong: each test builds
such a bundle and asserts the whole outcome (result, failed event, message, tree)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from ..archives import appspec, script, tar
from ..boxes import determined, needs_box, needs_runas
from ..conftest import requires_root

DF = "The deployment failed because"
TRAFFIC_ORDER = ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
                 "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
                 "ValidateService", "BeforeAllowTraffic", "AfterAllowTraffic"]


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def text(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify", *args])
    return code, capsys.readouterr().out


def event(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in out["events"] if e["name"] == name)


def stdout_of(out: dict[str, Any], name: str) -> list[str]:
    return [line["line"] for s in event(out, name)["scripts"] for line in s["output"]
            if line["stream"] == "stdout"]


def tree(out: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {n["path"]: (n["type"], n["mode"]) for n in out["tree"]}


# --- 1. installed files are copies --------------------------------------------------------
def test_fidelity_installed_script_keeps_its_mode_when_the_hook_is_made_executable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # installer.rb copies each file (a new inode); hook_executor.rb chmods +x the archive's
    # script only: the installed copy stays 0644
    dest = tmp_path / "app"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(dest, "  AfterInstall:\n    - location: s/run.sh\n"),
         0o644), ("s/run.sh", "file", script("echo ran\n"), 0o644)])
    code, out = verify(capsys, str(arc))
    assert (code, out["result"]) == (0, "succeeded")
    assert stdout_of(out, "AfterInstall") == ["ran"]
    assert tree(out) == {str(dest): ("dir", "0755"), f"{dest}/appspec.yml": ("file", "0644"),
                         f"{dest}/s": ("dir", "0755"), f"{dest}/s/run.sh": ("file", "0644")}
    assert [f["code"] for f in out["findings"]] == ["AK501"]
    assert out["findings"][0]["path"] == "s/run.sh"
    assert out["findings"][0]["hint"] == ("git update-index --chmod=+x s/run.sh (or chmod +x "
                                          "before archiving)")


# --- 2. the archive's root entry -----------------------------------------------------------
@needs_runas
def test_fidelity_private_root_entry_makes_runas_hooks_fail_with_126(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        runas_users: tuple[str, str]) -> None:
    # `tar czf x.tgz -C dir .` of a 0700 build dir: tar -xpsf gives deployment-archive 0700
    user = runas_users[0]
    dest = tmp_path / "app"
    hooks = f"  AfterInstall:\n    - location: s/run.sh\n      runas: {user}\n"
    arc = tar(tmp_path / "a.tgz", [
        ("./", "dir", "", 0o700), ("./appspec.yml", "file", appspec(dest, hooks), 0o644),
        ("./s/run.sh", "file", script(), 0o755)])
    code, out = verify(capsys, str(arc))
    determined(out)
    assert code == 1
    assert (out["result"], out["failed_event"], out["error"]["error_code"]) == \
        ("failed", "AfterInstall", "SCRIPT_FAILED")
    assert out["error"]["message"] == (f"Script at specified location: s/run.sh run as user "
                                       f"{user} failed with exit code 126")
    assert "Permission denied" in out["error"]["log_tail"]
    private = [f for f in out["findings"] if f["code"] == "AK410"]
    assert [(f["severity"], f["message"]) for f in private] == [(
        "warning", "the archive's root entry './' has mode 0700: the agent's deployment-archive "
        "directory gets it, and hooks with `runas` cannot reach their scripts (Permission "
        "denied, exit 126)")]
    assert private[0]["hint"] == ("`chmod 755` the build directory before `tar czf x.tgz -C "
                                  "dir .`, or archive with `tar --mode=go+rX`")


def test_fidelity_public_root_entry_is_no_finding(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "a.tgz", [("./", "dir", "", 0o755),
                                   ("./appspec.yml", "file", appspec(tmp_path / "app"), 0o644)])
    code, out = verify(capsys, str(arc))
    assert (code, out["result"], out["findings"]) == (0, "succeeded", [])


# --- 4. os: windows on a Linux instance ---------------------------------------------------
def test_fidelity_windows_appspec_fails_before_install_on_linux(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ("version: 0.0\nos: windows\nfiles:\n  - source: \\\n    destination: C:\\app\n"
            "hooks:\n  AfterInstall:\n    - location: s\\run.bat\n      runas: x\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert (out["result"], out["failed_event"], out["error"]["error_code"]) == \
        ("failed", "BeforeInstall", "UNKNOWN_ERROR")
    assert out["error"]["message"] == (
        f"{DF} the application specification file specifies an unsupported operating system "
        "(windows). Specify either \"linux\" or \"windows\" in the os section of the AppSpec "
        "file, and then try again.")
    # one finding: the os; the Windows path and runas rules apply to a Windows agent only
    assert [(f["code"], f["path"], f["line"], f["message"]) for f in out["findings"]] == [
        ("AK111", "appspec.yml", 2, "os: `os: windows` is for Windows instances; this Linux "
         "agent refuses it (write `os: linux`)")]
    assert event(out, "Install")["status"] == "skipped"


def test_fidelity_lint_still_accepts_windows_appspecs(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "appspec.yml"
    spec.write_text("version: 0.0\nos: windows\nfiles:\n  - source: app\n"
                    "    destination: C:\\inetpub\\app\n")
    assert main(["lint", "--format", "json", str(spec)]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["agent_verdict"] == "accepted"


# --- 5. --file-exists-behavior in any case ------------------------------------------------
def test_fidelity_file_exists_behavior_is_case_insensitive(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("index.html", "file", "new", 0o644)])
    code, out = verify(capsys, "--file-exists-behavior", "overwrite", str(arc))
    assert (code, out["result"]) == (0, "succeeded")
    changes = {c["path"]: c["change"] for c in out["changes"]}
    assert changes[str(dest / "index.html")] == "modified"
    assert (dest / "index.html").read_text() == "old"


def test_fidelity_file_exists_behavior_invalid_lists_the_valid_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--file-exists-behavior", "replace", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "agentkit verify: error: argument --file-exists-behavior: invalid choice: 'REPLACE' "
        "(choose from 'DISALLOW', 'OVERWRITE', 'RETAIN')")


# --- 6. traffic events ---------------------------------------------------------------------
def _traffic_bundle(tmp_path: Path) -> Path:
    hooks = "".join(f"  {e}:\n    - location: s/e.sh\n" for e in (
        "BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStart", "BeforeAllowTraffic",
        "AfterAllowTraffic"))
    return tar(tmp_path / f"t{time.monotonic_ns()}.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", hooks), 0o644),
        ("s/e.sh", "file", script('echo "$LIFECYCLE_EVENT"\n'), 0o755)])


def test_fidelity_traffic_hooks_run_by_default_in_local_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    code, first = verify(capsys, "--state-dir", str(state), str(_traffic_bundle(tmp_path)))
    assert code == 0
    assert [e["name"] for e in first["events"]] == TRAFFIC_ORDER
    ran = [(e["name"], stdout_of(first, e["name"])) for e in first["events"] if e["scripts"]]
    assert ran == [("ApplicationStart", ["ApplicationStart"]),
                   ("BeforeAllowTraffic", ["BeforeAllowTraffic"]),
                   ("AfterAllowTraffic", ["AfterAllowTraffic"])]
    # the BlockTraffic hooks come from the last successful revision: the first one's
    code, second = verify(capsys, "--state-dir", str(state), str(_traffic_bundle(tmp_path)))
    assert code == 0
    assert [(e["name"], e["revision"]) for e in second["events"][:2]] == [
        ("BeforeBlockTraffic", "previous"), ("AfterBlockTraffic", "previous")]
    assert stdout_of(second, "BeforeBlockTraffic") == ["BeforeBlockTraffic"]
    assert first["modelled"] == [
        "traffic hooks run: codedeploy-local's order, as a deployment group with a load "
        "balancer (--no-load-balancer: the service skips them)",
        "the instance's file system: this machine's / (--image: the instance's own)"]


def test_fidelity_no_load_balancer_skips_the_traffic_hooks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = text(capsys, "--no-load-balancer", str(_traffic_bundle(tmp_path)))
    assert code == 0
    lines = report.splitlines()
    assert lines[1] == ("modelled: no load balancer: the service skips the Before/After "
                        "Block/AllowTraffic hooks")
    assert lines[2] == ("modelled: the instance's file system: this machine's / (--image: "
                        "the instance's own)")
    assert [line.split()[0] for line in lines[3:10]] == [
        "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
        "ApplicationStart", "s/e.sh"]  # the event, then its script's line


# --- 8. unknown hook names -----------------------------------------------------------------
def test_fidelity_unknown_event_summary_says_both(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    hooks = "  AfterInstal:\n    - location: s/e.sh\n"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "app", hooks),
                                    0o644), ("s/e.sh", "file", script(), 0o755)])
    code, report = text(capsys, str(arc))
    assert code == 1
    assert ("The deployment would succeed, but the hooks under AfterInstal never run: the "
            "service knows no such lifecycle event (codedeploy-local refuses the appspec at "
            "Install instead).") in report.splitlines()
    assert "appspec.yml:7:3: error AK132: hooks > AfterInstal: not a lifecycle event; the " \
           "agent never runs it (did you mean AfterInstall?)" in report.splitlines()


# --- 9. the same result on any file system under TMPDIR -------------------------------------
@requires_root
def test_fidelity_result_is_the_same_with_tmpdir_on_tmpfs_and_on_disk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "app"
    probe = f"/tmp/agentkit-fidelity-{os.getpid()}"
    body = (f"mkdir -p {probe} && echo x > {probe}/f\nls -d /tmp/agentkit-fidelity-* | "
            "wc -l\nfind \"$(dirname \"$0\")\" -type f | sort | sed 's|.*/deployment-archive/||'\n")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(dest, "  AfterInstall:\n    - location: s/e.sh\n"),
         0o644), ("s/e.sh", "file", script(body), 0o755),
        *[(f"web/{i}.html", "file", f"page {i}", 0o644) for i in range(20)]])
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True)
    disk = Path(tempfile.mkdtemp(dir="/var/tmp"))
    results = []
    try:
        for where in (mnt, disk):
            monkeypatch.setattr(tempfile, "tempdir", str(where))
            code, out = verify(capsys, str(arc))
            assert code == 0, out["error"]
            results.append({k: out[k] for k in ("result", "findings", "tree", "notes")} | {
                "stdout": stdout_of(out, "AfterInstall"),
                "changes": [(c["path"], c["change"]) for c in out["changes"]]})
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        os.rmdir(disk)
    assert results[0] == results[1]
    assert results[0]["stdout"][0] == "1"  # the host's /tmp holds no such directory
    assert (f"{probe}/f", "created") in results[0]["changes"]
    assert not os.path.exists(probe)


# --- the tree: what the deployment touched, and a summary of the rest ------------------------


def test_verify_tree_leaves_out_host_directories_the_deployment_did_not_touch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a destination such as /var/www on a busy host: thousands of host paths beside the app
    www = tmp_path / "www"
    busy = www / "html" / "cache"
    busy.mkdir(parents=True)
    for i in range(3000):
        (busy / f"c{i:04}").write_bytes(b"x" * 10)
    (www / "README").write_text("host")
    (www / "app").mkdir()
    (www / "app" / "old.txt").write_text("old")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                                f"    destination: {www}/app\n", 0o644),
        ("app/index.html", "file", "<h1>", 0o644)])
    raw = subprocess.run([sys.executable, "-m", "agentkit", "verify", "--format", "json",
                          "--hooks", "skip", str(arc)], capture_output=True, check=False)
    assert raw.returncode == 0, raw.stderr
    assert len(raw.stdout) < 20_000  # not 3000 host paths hashed and listed
    out = json.loads(raw.stdout)
    assert [(n["path"], n["type"]) for n in out["tree"]] == [
        (f"{www}/app", "dir"), (f"{www}/app/index.html", "file"),
        (f"{www}/app/old.txt", "file")]
    assert out["tree_untouched"] == {"dirs": 0, "entries": 0, "bytes": 0, "complete": True}

    # the whole of www as the destination: html/ is listed, not entered, and summed
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                                f"    destination: {www}\n", 0o644),
        ("app/app/index.html", "file", "<h1>", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0, out["error"]
    assert [(n["path"], n["type"]) for n in out["tree"]] == [
        (str(www), "dir"), (f"{www}/README", "file"), (f"{www}/app", "dir"),
        (f"{www}/app/index.html", "file"), (f"{www}/app/old.txt", "file"),
        (f"{www}/html", "dir")]
    assert out["tree_untouched"] == {"dirs": 1, "entries": 3000, "bytes": 30000,
                                     "complete": True}


@needs_box
def test_verify_tree_enters_host_directories_a_hook_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    www = tmp_path / "www"
    (www / "logs").mkdir(parents=True)
    (www / "logs" / "a.log").write_text("a")
    (www / "data").mkdir()
    (www / "data" / "d").write_text("d")
    hooks = ("  AfterInstall:\n    - location: rm.sh\n")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                                f"    destination: {www}\nhooks:\n{hooks}", 0o644),
        ("app/index.html", "file", "<h1>", 0o644),
        ("rm.sh", "file", script(f"rm {www}/logs/a.log\ntouch {www}/logs/b.log\n"), 0o755)])
    code, out = verify(capsys, str(arc))
    determined(out)
    assert code == 0, out["error"]
    assert [n["path"] for n in out["tree"]] == [
        str(www), f"{www}/data", f"{www}/index.html", f"{www}/logs", f"{www}/logs/b.log"]
    assert out["tree_untouched"] == {"dirs": 1, "entries": 1, "bytes": 1, "complete": True}


@needs_box
def test_verify_box_started_before_install_keeps_the_mount_points(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a BeforeInstall hook starts the box before Install; Install is then replayed into it,
    # the mount point above the destination (/tmp's overlay) included, and must not come
    # back from the next hook as deleted
    hooks = "  BeforeInstall:\n    - location: s/ls.sh\n  AfterInstall:\n    - location: s/ls.sh\n"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", hooks), 0o644),
        ("s/ls.sh", "file", script(f"ls {tmp_path}/app 2>&1 || true\n"), 0o755)])
    code, out = verify(capsys, str(arc))
    determined(out)
    assert code == 0, out["error"]
    missing = f"ls: cannot access '{tmp_path}/app': No such file or directory"
    assert stdout_of(out, "BeforeInstall") == [missing]
    assert stdout_of(out, "AfterInstall") == ["appspec.yml", "s"]
    assert [(c["path"], c["change"]) for c in out["changes"]] == [
        (f"{tmp_path}/app", "created"), (f"{tmp_path}/app/appspec.yml", "created"),
        (f"{tmp_path}/app/s", "created"), (f"{tmp_path}/app/s/ls.sh", "created")]
    assert [n for n in out["notes"] if "Install" in n or "outside the deployment" in n] == []


# --- AK515: writes and cleanup deletes through a link into shared storage -------------------


def _release_linked_to(tmp_path: Path, shared: Path) -> tuple[Path, Path]:
    app = tmp_path / "app"
    app.mkdir()
    (app / "storage").symlink_to(shared)
    arc = tar(tmp_path / f"a{len(os.listdir(tmp_path))}.tgz", [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: release\n"
                                f"    destination: {app}\n", 0o644),
        ("release/index.php", "file", "<?php", 0o644),
        ("release/storage/avatar.png", "file", "png", 0o644)])
    return app, arc


def test_verify_shared_storage_cleanup_deletes_through_the_link_next_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared" / "storage"
    shared.mkdir(parents=True)
    app, arc = _release_linked_to(tmp_path, shared)
    state = tmp_path / "state"
    code, out = verify(capsys, "--hooks", "skip", "--state-dir", str(state), str(arc))
    assert [f["message"] for f in out["findings"]] == [
        f"Install writes 1 path(s) through {app}/storage -> {shared} (outside the files "
        f"destinations): e.g. {app}/storage/avatar.png lands at {shared}/avatar.png, "
        "overwriting any file of that name there, and the next deployment's cleanup deletes "
        "them there"]
    code, out = verify(capsys, "--hooks", "skip", "--state-dir", str(state), str(arc))
    assert code == 1
    assert [f["message"] for f in out["findings"]] == [
        f"the previous revision's cleanup deletes 1 path(s) through {app}/storage -> {shared} "
        f"(outside the files destinations): e.g. {app}/storage/avatar.png is "
        f"{shared}/avatar.png on the share",
        f"Install writes 1 path(s) through {app}/storage -> {shared} (outside the files "
        f"destinations): e.g. {app}/storage/avatar.png lands at {shared}/avatar.png, "
        "overwriting any file of that name there, and the next deployment's cleanup deletes "
        "them there"]


@requires_root
def test_verify_shared_storage_on_another_file_system_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    efs = tmp_path / "efs"
    efs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(efs)], check=True)
    try:
        # EFS at /mnt/efs: another file system is what the finding names first
        app, arc = _release_linked_to(tmp_path, efs)
        code, out = verify(capsys, "--hooks", "skip", str(arc))
        assert code == 1
        assert [f["message"] for f in out["findings"]] == [
            f"Install writes 1 path(s) through {app}/storage -> {efs} (another file system): "
            f"e.g. {app}/storage/avatar.png lands at {efs}/avatar.png, overwriting any file of "
            "that name there, and the next deployment's cleanup deletes them there"]
        assert not (efs / "avatar.png").exists()  # verify itself never writes the share
    finally:
        subprocess.run(["umount", str(efs)], check=True)


def test_verify_link_inside_the_destination_is_not_shared_storage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = tmp_path / "app"
    (app / "real").mkdir(parents=True)
    (app / "storage").symlink_to(app / "real")
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: release\n"
                                f"    destination: {app}\n", 0o644),
        ("release/storage/avatar.png", "file", "png", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert (code, out["findings"]) == (0, [])


def test_verify_a_directory_a_hook_removed_and_install_made_again_lists_the_hosts_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # BeforeInstall's "remove the previous deploy" (rm -rf), then Install makes the directory
    # again: the agent deletes what the host had there, and the changes must say so
    dest = tmp_path / "app"
    (dest / "lib/old").mkdir(parents=True)
    (dest / "lib/old.txt").write_text("old\n")
    (dest / "lib/old/deep.txt").write_text("old\n")
    (dest / "keep.txt").write_text("kept\n")
    hooks = "  BeforeInstall:\n    - location: s/clean.sh\n"
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", appspec(dest, hooks), 0o644),
        ("s/clean.sh", "file", script(f"rm -rf {dest}/lib\n"), 0o755),
        ("lib/new.txt", "file", "new\n", 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 0, out["error"]
    changes = {c["path"]: c["change"] for c in out["changes"]}
    # (lib itself is "modified" where the user running this is not root: the agent makes
    # it again as root's, this machine's is the user's)
    assert {p: c for p, c in changes.items() if p.startswith(f"{dest}/lib/")} == {
        f"{dest}/lib/new.txt": "created", f"{dest}/lib/old.txt": "deleted",
        f"{dest}/lib/old": "deleted"}
    assert f"{dest}/keep.txt" not in changes
    assert sorted(t["path"] for t in out["tree"] if t["path"].startswith(f"{dest}/lib")) == \
        [f"{dest}/lib", f"{dest}/lib/new.txt"]
