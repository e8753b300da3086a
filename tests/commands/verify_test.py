"""`agentkit verify` end to end on real archives, against this real machine (never changed)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit.agent import linked_dirs
from agentkit.cli import main

from ..archives import appspec, script, tar, zip_

DF = "The deployment failed because"


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def event(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in out["events"] if e["name"] == name)


def test_verify_clean_bundle_succeeds_and_reports_tree(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "srv" / "app"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(dest, "  AfterInstall:\n    - location: s/after.sh\n"),
         0o644),
        ("s/after.sh", "file", script(), 0o755), ("web/index.html", "file", "hi", 0o640)])
    code, out = verify(capsys, str(arc))
    assert code == 0
    assert out["result"] == "succeeded" and out["failed_event"] is None and out["error"] is None
    # codedeploy-local's order, traffic hooks included (deployer.rb)
    assert [e["name"] for e in out["events"]] == [
        "BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
        "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService",
        "BeforeAllowTraffic", "AfterAllowTraffic"]
    assert event(out, "ApplicationStop")["revision"] == "previous"
    after = event(out, "AfterInstall")
    assert after["status"] == "succeeded"
    assert [(r["location"], r["error_code"], r["exit_code"], r["output"]) for r in
            after["scripts"]] == [("s/after.sh", "SUCCEEDED", 0,
                                   [{"stream": "stdout", "line": "ok"}])]
    assert "LifecycleEvent - AfterInstall\n" in out["scripts_log"]
    tree = {n["path"]: n for n in out["tree"]}
    assert tree[f"{dest}/web/index.html"]["mode"] == "0640"
    assert tree[f"{dest}/web/index.html"]["type"] == "file"
    assert tree[f"{dest}/s/after.sh"]["mode"] == "0755"
    created = {c["path"] for c in out["changes"] if c["change"] == "created"}
    assert {str(tmp_path / "srv"), str(dest), f"{dest}/web/index.html"} <= created
    assert not dest.exists()  # the host is untouched


def test_verify_disallow_conflict_with_a_host_file(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("index.html", "file", "new", 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert out["failed_event"] == "Install"
    assert out["error"] == {
        "event": "Install", "error_code": "UNKNOWN_ERROR", "script": None, "log_tail": "",
        "message": f"{DF} a specified file already exists at this location: {dest}/index.html"}
    assert (dest / "index.html").read_text() == "old"
    assert event(out, "AfterInstall")["status"] == "skipped"


def test_verify_overwrite_reports_modified_host_file(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("index.html", "file", "new", 0o644)])
    code, out = verify(capsys, "--file-exists-behavior", "OVERWRITE", str(arc))
    assert code == 0
    changes = {c["path"]: c["change"] for c in out["changes"]}
    assert changes[f"{dest}/index.html"] == "modified"
    assert (dest / "index.html").read_text() == "old"


@pytest.mark.parametrize("content,modified", [("old", 0), ("new", 1)])
def test_verify_text_counts_a_file_modified_only_when_its_bytes_differ(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, modified: int) -> None:
    # the text report hashes nothing while unpacking: digests are computed when compared
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "index.html").write_text("old")
    os.chmod(dest / "index.html", 0o644)
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("index.html", "file", content, 0o644)],
              uid=os.getuid())  # the host file's owner: only the bytes may differ
    code = main(["verify", "--hooks", "skip", "--file-exists-behavior", "OVERWRITE", str(arc)])
    text = capsys.readouterr().out
    assert code == 0
    assert f"changes outside the deployment root: 1 created, {modified} modified, 0 deleted" \
        in text.splitlines()


def test_verify_overwrite_through_symlink_differs_by_agent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (tmp_path / "real.conf").write_text("old")
    (dest / "app.conf").symlink_to(tmp_path / "real.conf")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("app.conf", "file", "new", 0o644)])
    _, out1 = verify(capsys, "--file-exists-behavior", "OVERWRITE", str(arc))
    changes1 = {c["path"]: c for c in out1["changes"]}
    assert changes1[str(tmp_path / "real.conf")]["change"] == "modified"  # written through
    assert f"{dest}/app.conf" not in changes1
    _, out2 = verify(capsys, "--agent", "2", "--file-exists-behavior", "OVERWRITE", str(arc))
    changes2 = {c["path"]: c for c in out2["changes"]}
    assert changes2[f"{dest}/app.conf"]["type"] == "file"  # the link is replaced
    assert (tmp_path / "real.conf").read_text() == "old"
    assert os.path.islink(dest / "app.conf")


def test_verify_file_source_lands_in_destination_dir(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: app.jar\n"
            f"    destination: {tmp_path}/opt/app.jar\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("app.jar", "file", "jar", 0o644)])
    _, out = verify(capsys, str(arc))
    paths = {n["path"]: n["type"] for n in out["tree"]}
    assert paths == {f"{tmp_path}/opt/app.jar": "dir", f"{tmp_path}/opt/app.jar/app.jar": "file"}
    assert "AK209" in {f["code"] for f in out["findings"]}


@pytest.mark.parametrize(("agent", "message"), [
    ("1", "Not a directory @ rb_sysopen - {dest}/app.conf"),
    ("2", "Install failed for group dg-verify: IO error: Not a directory (os error 20)")])
def test_verify_file_source_onto_an_existing_file_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], agent: str, message: str) -> None:
    # the agent copies to <destination>/app.conf; a file at <destination> is not a directory
    dest = tmp_path / "etc" / "app.conf"
    dest.parent.mkdir()
    dest.write_text("old")
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: app.conf\n    destination: {dest}\n"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("app.conf", "file", "new", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", "--agent", agent, str(arc))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == message.format(dest=dest)
    assert out["changes"] == [] and dest.read_text() == "old"


def test_verify_copies_through_a_host_symlinked_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Capistrano-style: the release's storage/ is a link to shared storage on the instance;
    # the agent's copy goes through it, and the link stays a link
    app, shared = tmp_path / "d" / "app", tmp_path / "d" / "shared" / "storage"
    shared.mkdir(parents=True)
    app.mkdir()
    (app / "storage").symlink_to(shared)
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: release\n    destination: {app}\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("release/index.php", "file", "<?php", 0o644),
                                   ("release/storage/.gitignore", "file", "*", 0o644),
                                   ("release/storage/sub/keep", "file", "k", 0o644)])
    keep = tmp_path / "keep"
    code, out = verify(capsys, "--hooks", "skip", "--keep", str(keep), str(arc))
    assert (code, out["result"]) == (1, "succeeded"), out["error"]  # AK515 is an error
    assert out["findings"] == [{
        "severity": "error", "code": "AK515", "path": f"{app}/storage", "line": None,
        "column": None,
        "message": f"Install writes 3 path(s) through {app}/storage -> {shared} (outside the "
                   f"files destinations): e.g. {app}/storage/.gitignore lands at "
                   f"{shared}/.gitignore, overwriting any file of that name there, and the next "
                   "deployment's cleanup deletes them there",
        "hint": "keep what the link stands for out of the bundle (or out of `files`), and "
                "make the link after Install (agentkit hook link-shared in AfterInstall)",
        "agent_message": None}]
    assert {c["path"]: (c["change"], c["type"]) for c in out["changes"]} == {
        f"{app}/index.php": ("created", "file"),
        f"{shared}/.gitignore": ("created", "file"),
        f"{shared}/sub": ("created", "dir"),
        f"{shared}/sub/keep": ("created", "file")}
    tree = {n["path"]: (n["type"], n["target"]) for n in out["tree"]}
    assert tree[f"{app}/storage"] == ("symlink", str(shared))
    cleanup = keep / "deployment-root" / "deployment-instructions" / "dg-verify-cleanup"
    assert cleanup.read_text().splitlines() == [  # the paths as the agent names them
        f"{app}/index.php", f"{app}/storage/.gitignore", f"{app}/storage/sub",
        f"{app}/storage/sub/keep"]


@pytest.mark.parametrize("agent", ["1", "2"])
def test_verify_bundle_link_onto_an_existing_directory_with_overwrite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], agent: str) -> None:
    # 1.x: FileUtils.symlink is ln_s, which puts the link inside the directory, named after
    # its target; 2.x fails
    dest = tmp_path / "d"
    (dest / "link").mkdir(parents=True)
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
            "file_exists_behavior: OVERWRITE\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("app/conf/x", "file", "x", 0o644),
                                   ("app/link", "symlink", "conf/x", 0o777)])
    code, out = verify(capsys, "--hooks", "skip", "--agent", agent, str(arc))
    if agent == "1":
        assert code == 0, out["error"]
        tree = {n["path"]: (n["type"], n["target"]) for n in out["tree"]}
        assert tree[f"{dest}/link"] == ("dir", None)
        assert tree[f"{dest}/link/x"] == ("symlink", "conf/x")
    else:
        assert out["error"]["message"] == ("Install failed for group dg-verify: IO error: File "
                                           "exists (os error 17)")


@pytest.mark.parametrize(("setting", "agent", "message"), [
    ("owner: root", "1", "No such file or directory @ apply2files - {link}"),
    ("mode: '600'", "1", "No such file or directory @ apply2files - {link}"),
    ("mode: '600'", "2", "Install failed for group dg-verify: IO error: No such file or "
                         "directory (os error 2)")])
def test_verify_permissions_on_a_dangling_link_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, agent: str,
        message: str) -> None:
    # File.chmod / File.chown follow the link the agent installed
    dest = tmp_path / "d"
    extra = f"permissions:\n  - object: {dest}\n    {setting}\n"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest, extra=extra), 0o644),
                                   (".env", "symlink", "/nonexistent-ak/.env", 0o777)])
    code, out = verify(capsys, "--hooks", "skip", "--agent", agent, str(arc))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == message.format(link=f"{dest}/.env")


def test_verify_missing_script_and_crlf_shebang(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    hooks = ("  BeforeInstall:\n    - location: s/gone.sh\n"
             "  AfterInstall:\n    - location: s/crlf.sh\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d", hooks), 0o644),
                                   ("s/crlf.sh", "file", "#!/bin/bash\r\necho hi\r\n", 0o755)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    found = {f["code"]: f for f in out["findings"]}
    root = "/opt/codedeploy-agent/deployment-root/dg-verify"
    assert found["AK500"]["agent_message"].startswith(
        f"Script does not exist at specified location: {root}/")
    assert found["AK500"]["agent_message"].endswith("/deployment-archive/s/gone.sh")
    assert found["AK504"]["agent_message"].startswith("Script at specified location: ")
    assert "failed with error Errno::ENOENT with message No such file or directory" in \
        found["AK504"]["agent_message"]


def test_verify_hook_location_with_leading_slash_is_inside_the_bundle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # hook_executor.rb joins the location to the archive with File.join: "/s/run.sh" is
    # <archive>/s/run.sh, not a path on the host; its message shows the path expand_path'ed
    hooks = ("  AfterInstall:\n    - location: /s/run.sh\n"
             "  ValidateService:\n    - location: /s/../s/gone.sh\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d", hooks), 0o644),
                                   ("s/run.sh", "file", script(), 0o755)])
    _code, out = verify(capsys, "--hooks", "skip", str(arc))
    missing = [f for f in out["findings"] if f["code"] == "AK500"]
    assert [(f["path"], f["agent_message"]) for f in missing] == [
        ("s/gone.sh",  # the member a user can find, not verify's copy of it
         f"Script does not exist at specified location: {_archive_path(out, 's/gone.sh')}")]


def test_verify_appspec_error_fails_before_install(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", 'version: "0.0"\nos: linux\n', 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert out["failed_event"] == "BeforeInstall"
    assert out["error"]["message"].startswith(f"{DF} an invalid version value (0.0)")
    assert event(out, "Install")["status"] == "skipped"


def test_verify_missing_appspec_message(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "a.tgz", [("app.txt", "file", "x", 0o644), ("b.txt", "file", "", 0o644)])
    _, out = verify(capsys, str(arc))
    assert out["failed_event"] == "BeforeInstall"
    assert out["error"]["message"].startswith(
        "The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory"
        ' at revision-relative path "appspec.yml". The revision was unpacked to directory '
        '"/opt/codedeploy-agent/deployment-root/dg-verify/d-')
    _, out2 = verify(capsys, "--agent", "2", str(arc))
    assert out2["failed_event"] == "DownloadBundle"


def test_verify_state_dir_applies_previous_cleanup(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    state = tmp_path / "state"
    v1 = tar(tmp_path / "v1.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("old.txt", "file", "1", 0o644)])
    v2 = tar(tmp_path / "v2.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("new.txt", "file", "2", 0o644)])
    assert verify(capsys, "--state-dir", str(state), str(v1))[0] == 0
    code, out = verify(capsys, "--state-dir", str(state), str(v2))
    assert code == 0
    tree = sorted(n["path"] for n in out["tree"])
    assert tree == [str(dest), f"{dest}/appspec.yml", f"{dest}/new.txt"]
    stop = event(out, "ApplicationStop")
    assert stop["revision"] == "previous" and stop["status"] == "succeeded"
    assert not dest.exists()


def test_verify_previous_runs_first_in_same_root(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    hooks = "  ApplicationStop:\n    - location: stop.sh\n"
    v1 = tar(tmp_path / "v1.tgz", [("appspec.yml", "file", appspec(dest, hooks), 0o644),
                                   ("stop.sh", "file", script(), 0o755)])
    v2 = tar(tmp_path / "v2.tgz", [("appspec.yml", "file", appspec(dest), 0o644)])
    code, out = verify(capsys, "--previous", str(v1), str(v2))
    assert code == 0
    assert out["previous"]["result"] == "succeeded"
    stop = event(out, "ApplicationStop")
    assert (stop["status"], stop["revision"]) == ("succeeded", "previous")
    assert stop["scripts"][0]["location"] == "stop.sh"


def test_verify_zip_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = zip_(tmp_path / "a.zip", [("appspec.yml", "file", appspec(tmp_path / "z"), 0o644),
                                    ("f.txt", "file", "x", 0o644)])
    code, out = verify(capsys, str(arc))
    assert code == 0 and out["bundle_type"] == "zip"


def test_verify_directory_link_is_deep_copied_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    share = tmp_path / "efs" / "media"
    (share / "2019").mkdir(parents=True)
    for i in range(3):
        (share / f"{i}.jpg").write_bytes(b"x" * 1000)
    (share / "2019" / "old.jpg").write_bytes(b"y" * 500)
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "rel"), 0o644),
                                   ("media", "symlink", str(share), 0o777)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    link = [f for f in out["findings"] if f["code"] == "AK510"]
    assert [f["message"] for f in link] == [
        f"the agent copies everything under {share} (a linked directory outside the bundle) "
        "onto the instance, whatever it holds there; the tree shows this host's copy: 4 "
        "file(s), 0.0 MB"]
    rel = tmp_path / "rel"
    tree = {n["path"]: (n["type"], n["mode"]) for n in out["tree"]}
    assert tree == {str(rel): ("dir", "0755"), f"{rel}/appspec.yml": ("file", "0644"),
                    f"{rel}/media": ("dir", "0755"), f"{rel}/media/2019": ("dir", "0755"),
                    f"{rel}/media/2019/old.jpg": ("file", "0644"),
                    **{f"{rel}/media/{i}.jpg": ("file", "0644") for i in range(3)}}
    assert not rel.exists()
    assert sorted(os.listdir(share)) == ["0.jpg", "1.jpg", "2.jpg", "2019"]


def test_verify_directory_link_copy_past_the_cap_is_counted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    share = tmp_path / "efs" / "media"
    (share / "sub").mkdir(parents=True)
    for i in range(4):
        (share / "sub" / f"{i}.jpg").write_bytes(b"x" * 250_000)
    monkeypatch.setattr(linked_dirs, "MAX_ENTRIES", 1)  # room for the directory only
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "rel"), 0o644),
                                   ("media", "symlink", str(share), 0o777)])
    code, out = verify(capsys, str(arc))
    assert code == 1
    assert [f["message"] for f in out["findings"] if f["code"] == "AK510"] == [
        f"the agent copies everything under {share} (a linked directory outside the bundle) "
        "onto the instance, whatever it holds there; the tree shows this host's copy: 0 "
        "file(s), 0.0 MB, and 4 more file(s), 1.0 MB, past verify's cap (counted, not listed)"]
    assert not [n for n in out["tree"] if n["path"].endswith(".jpg")]


def test_verify_text_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", 'version: "0.0"\nos: linux\n', 0o644)])
    junit = tmp_path / "r.xml"
    assert main(["verify", "--junit", str(junit), str(arc)]) == 1
    text = capsys.readouterr().out
    assert "  BeforeInstall        failed" in text
    assert "The deployment would FAIL in BeforeInstall (UNKNOWN_ERROR): " in text
    xml = junit.read_text()
    assert '<testcase classname="lifecycle" name="BeforeInstall"><failure' in xml
    assert '<testcase classname="findings" name="AK110"><failure' in xml


def test_verify_junit_failure_carries_the_scripts_last_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    from ..archives import script

    body = "".join(f"echo line {i}\n" for i in range(30)) + "echo 'no route to db' >&2\nexit 4\n"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "d", "  AfterInstall:\n    - location: "
                                        "s.sh\n"), 0o644), ("s.sh", "file", script(body), 0o755)])
    junit = tmp_path / "r.xml"
    assert main(["verify", "--junit", str(junit), str(arc)]) == 1
    capsys.readouterr()
    case = next(c for c in ET.parse(junit).getroot() if c.get("name") == "AfterInstall")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "Script at specified location: s.sh failed with exit code 4"
    assert failure.text == "\n".join([
        "Script at specified location: s.sh failed with exit code 4", "",
        "end of the script's log, as the CodeDeploy console shows it:",
        *[f"[stdout]line {i}" for i in range(16, 30)], "[stderr]no route to db"])


def test_verify_missing_archive_is_clean_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "nope.tgz")]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: {tmp_path}/nope.tgz: no such file or directory. Give a .tar, "
        ".tar.gz/.tgz, .zip or a bundle directory.\n")


def test_verify_state_dir_in_use_is_clean_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d"), 0o644)])
    state = tmp_path / "state"
    state.mkdir()
    with open(state / ".agentkit-lock", "w") as held:  # as another verify running there
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["verify", "--state-dir", str(state), str(arc)]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: {state}: another agentkit verify is using this directory right now. "
        "Wait for it to finish (--wait SECONDS waits for it), or give this run another "
        "--state-dir/--keep directory.\n")
    assert main(["verify", "--hooks", "skip", "--state-dir", str(state), str(arc)]) == 0


def test_verify_wait_for_a_busy_state_dir(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys
    import time

    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d"), 0o644)])
    state = tmp_path / "state"
    state.mkdir()
    # another process holds the lock for 1 s, as a verify still running there
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\nf = open(sys.argv[1], 'w')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(1)\n"), str(state / ".agentkit-lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert main(["verify", "--hooks", "skip", "--wait", "0.2", "--state-dir", str(state),
                     str(arc)]) == 1
        assert capsys.readouterr().err == (
            f"agentkit: error: {state}: another agentkit verify is using this directory "
            "still, after --wait 0.2. Wait for it to finish (--wait SECONDS waits for it), or "
            "give this run another --state-dir/--keep directory.\n")
        start = time.monotonic()
        assert main(["verify", "--hooks", "skip", "--wait", "30", "--state-dir", str(state),
                     str(arc)]) == 0
        assert holder.poll() == 0  # it ran once the holder had let go
        assert time.monotonic() - start < 30
    finally:
        holder.kill()
        holder.wait()


def test_verify_permissions_apply_to_new_objects_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    extra = (f"permissions:\n  - object: {dest}\n    pattern: '*.sh'\n    mode: '700'\n"
             "    type: [file]\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest, extra=extra), 0o644),
                                   ("run.sh", "file", script(), 0o755),
                                   ("sub/deep.sh", "file", script(), 0o755)])
    _, out = verify(capsys, str(arc))
    modes = {n["path"]: n["mode"] for n in out["tree"]}
    assert modes[f"{dest}/run.sh"] == "0700"
    assert modes[f"{dest}/sub/deep.sh"] == "0755"  # not a direct child: never matches


def test_verify_same_object_twice_fails(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "app"
    extra = (f"permissions:\n  - object: {dest}\n    mode: '700'\n"
             f"  - object: {dest}\n    pattern: 'a'\n    mode: '600'\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest, extra=extra), 0o644),
                                   ("a", "file", "x", 0o644)])
    _, out = verify(capsys, str(arc))
    assert out["error"]["message"] == (
        f"{DF} the permissions setting for ({dest}/a) is specified more than once in the "
        "application specification file. Update the files section of the AppSpec file, and then "
        "try again.")


def test_verify_json_stream_equals_the_whole_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentkit.report import verify_json
    from agentkit.verify import run
    from agentkit.verify.options import BoxOptions, Options

    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d"), 0o644),
                                   ("a", "file", "1", 0o644), ("b", "file", "2", 0o600)])
    result = run.revision(Options(str(arc), box=BoxOptions(hooks="skip")), str(tmp_path / "w"))
    out = io.StringIO()
    verify_json.write(out, result, None)
    assert json.loads(out.getvalue()) == {**result.to_json(), "previous": None,
                                          "diagnoses": []}


def test_verify_removes_its_throwaway_root(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "d"), 0o644)])
    assert verify(capsys, "--hooks", "skip", str(arc))[0] == 0
    deadline = time.monotonic() + 10
    while os.listdir(tmp_path / "tmp") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(tmp_path / "tmp") == []


def test_verify_no_install_still_checks_scripts_and_links(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = "  AfterInstall:\n    - location: s/crlf.sh\n"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "d", hooks), 0o644),
        ("s/crlf.sh", "file", "#!/bin/bash\r\necho hi\r\n", 0o755),
        ("www/app.js", "file", "js", 0o644), ("www/latest.js", "symlink", "app.js", 0o777)])
    code, out = verify(capsys, "--no-install", "--hooks", "skip", str(arc))
    assert code == 1
    assert [f["code"] for f in out["findings"]] == ["AK504"]
    assert event(out, "Install")["status"] == "skipped"


def _archive_path(out: dict[str, Any], rel: str) -> str:
    return (f"/opt/codedeploy-agent/deployment-root/{out['deployment_group_id']}/"
            f"{out['deployment_id']}/deployment-archive/{rel}")


@pytest.mark.parametrize("before", [0, 1500])
def test_verify_two_sources_for_one_destination_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], before: int) -> None:
    # `before` files come first: the conflict is found among copies stored in bulk
    dest = tmp_path / "d"
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: many\n    destination: {dest}/many\n"
            f"  - source: a\n    destination: {dest}\n  - source: b/a\n    destination: {dest}\n")
    members = [("appspec.yml", "file", spec, 0o644), ("a", "file", "1", 0o644),
               ("b/a", "file", "2", 0o644)]
    members += [(f"many/f{i}", "file", "x", 0o644) for i in range(before)]
    code, out = verify(capsys, "--hooks", "skip", str(tar(tmp_path / "a.tgz", members)))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == (
        f"{DF} the application specification file specifies two source files named "
        f"{_archive_path(out, 'b/a')} and {_archive_path(out, 'a')} for the same destination "
        f"({dest}/a). Remove one of the source file paths from the AppSpec file, and then try "
        "again.")


@pytest.mark.parametrize("two_sources_first", [False, True])
def test_verify_directory_over_a_copied_file_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], two_sources_first: bool) -> None:
    # a later mapping makes a directory where an earlier one copies a file; when two sources
    # already collided before that, the agent reports that first
    dest = tmp_path / "d"
    twice = f"  - source: b/a\n    destination: {dest}\n" if two_sources_first else ""
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: a\n    destination: {dest}\n"
            f"{twice}  - source: sub\n    destination: {dest}/a\n")
    members = [("appspec.yml", "file", spec, 0o644), ("a", "file", "1", 0o644),
               ("b/a", "file", "2", 0o644), ("sub/f", "file", "3", 0o644)]
    code, out = verify(capsys, "--hooks", "skip", str(tar(tmp_path / "a.tgz", members)))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == ((
        f"{DF} the application specification file specifies two source files named "
        f"{_archive_path(out, 'b/a')} and {_archive_path(out, 'a')} for the same destination "
        f"({dest}/a). Remove one of the source file paths from the AppSpec file, and then try "
        "again.") if two_sources_first else (
        f"{DF} the application specification file includes an mkdir command more than once "
        f"for the same destination path ({dest}/a) from ({_archive_path(out, 'a')}). Update "
        "the files section of the AppSpec file, and then try again."))


def test_verify_file_over_a_planned_directory_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "d"
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: sub\n    destination: {dest}/x\n"
            f"  - source: x\n    destination: {dest}\n")
    members = [("appspec.yml", "file", spec, 0o644), ("x", "file", "1", 0o644),
               ("sub/f", "file", "3", 0o644)]
    code, out = verify(capsys, "--hooks", "skip", str(tar(tmp_path / "a.tgz", members)))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == (
        f"{DF} the application specification file calls for installing the file "
        f"{_archive_path(out, 'x')}, but a file with that name already exists at the location "
        f"({dest}/x). Update your AppSpec file or directory structure, and then try again.")


def test_verify_stripped_top_dir_keeps_member_owners(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "d"
    arc = tar(tmp_path / "a.tgz", [("rel/appspec.yml", "file", appspec(dest), 0o644),
                                   ("rel/web/a.css", "file", "x", 0o644)], uid=1234)
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0
    tree = {n["path"]: n["owner"] for n in out["tree"]}
    assert tree[f"{dest}/web/a.css"] == "1234:1234"  # tar -xp as root, then a preserving copy
    assert tree[f"{dest}/web"] == "0:0"  # made by the installer (mkdir as root)


def test_verify_copy_through_a_bundle_link_keeps_the_real_members_owner(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Laravel's public/storage -> ../storage/app/public: the agent deep-copies the linked
    # directory with :preserve, so the files keep the archive's owner
    dest = tmp_path / "d"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("storage/app/public/x.png", "file", "png", 0o644),
                                   ("public/storage", "symlink", "../storage/app/public", 0o777)],
              uid=1234)
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 1  # AK510: a link to a directory is copied, not linked
    owners = {n["path"]: (n["type"], n["owner"]) for n in out["tree"]}
    assert owners[f"{dest}/public/storage"] == ("dir", "0:0")  # made by the installer
    assert owners[f"{dest}/public/storage/x.png"] == ("file", "1234:1234")
    assert owners[f"{dest}/storage/app/public/x.png"] == ("file", "1234:1234")


def _verify_permission(tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str,
                       obj: str = "") -> tuple[int, dict[str, Any], Path]:
    """verify a bundle of one file `a` installed into tmp_path/d with one permissions entry
    (`entry`: its lines after `object`); the exit code, the report, deployment-instructions."""
    dest = tmp_path / "d"
    extra = f"permissions:\n  - object: {dest}{obj}\n{entry}"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest, extra=extra), 0o644),
                                   ("a", "file", "1", 0o644)])
    keep = tmp_path / "keep"
    code, out = verify(capsys, "--hooks", "skip", "--keep", str(keep), str(arc))
    return code, out, keep / "deployment-root" / "deployment-instructions"


@pytest.mark.parametrize("obj", ["", "/a"], ids=["directory", "file"])
def test_verify_default_acl_on_a_file_fails_1x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], obj: str) -> None:
    code, out, _ = _verify_permission(tmp_path, capsys, "    acls:\n      - d:u:nobody:rw\n",
                                      obj)
    assert code == 1 and out["error"]["message"] == (
        f"{DF} the -d parameter has been specified to apply an acl setting to a file. This "
        "parameter is supported for directories only. Update the AppSpec file, and then try "
        "again.")


def test_verify_acl_entries_in_install_json_as_the_agent_spells_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, instructions = _verify_permission(
        tmp_path, capsys, "    pattern: a\n    acls:\n      - u:nobody:rw\n      - g:adm:5\n")
    assert code == 0
    install = json.loads((instructions / "dg-verify-install.json").read_text())
    assert install["instructions"][-1] == {"type": "setfacl", "file": f"{tmp_path}/d/a",
                                           "acl": ["user:nobody:rw-", "group:adm:r-x"]}


def test_verify_selinux_context_without_range_crashes_1x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ChangeContextCommand#to_h calls get_range on nil while install.json is written
    code, out, instructions = _verify_permission(
        tmp_path, capsys, "    pattern: a\n    context:\n      type: httpd_sys_content_t\n")
    assert code == 1 and out["error"]["message"] == "undefined method `get_range' for nil:NilClass"
    assert (instructions / "dg-verify-install.json").read_bytes() == b""


def test_verify_selinux_context_in_install_json_and_cleanup(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, instructions = _verify_permission(
        tmp_path, capsys, "    pattern: a\n    context:\n      name: unconfined_u\n"
        "      type: httpd_sys_content_t\n      range: s0:c3,c1,c2\n")
    assert code == 0
    assert any("SELinux context on 1 path(s)" in n for n in out["notes"])
    install = json.loads((instructions / "dg-verify-install.json").read_text())
    assert install["instructions"][-1] == {  # the range as RangeInfo#get_range spells it
        "type": "semanage", "context": {"user": "unconfined_u", "role": None,
                                        "type": "httpd_sys_content_t", "range": "s0:c1.c3"},
        "file": f"{tmp_path}/d/a"}
    assert (instructions / "dg-verify-cleanup").read_text().splitlines()[-1] == \
        f"semanage\0{tmp_path}/d/a"


def test_verify_json_nodes_written_as_json_dumps_would() -> None:
    from agentkit.report.verify_json import _node
    from agentkit.verify.result import Node

    for node in [Node("/a b/ü\"x", "file", "0644", None, "ab" * 32, "0:0"),
                 Node("/l", "symlink", "0777", "../t\n", None, "5:6", "created"),
                 Node("/gone", "dir", "0755", None, None, None, "deleted")]:
        assert _node(node) == json.dumps(node.to_json())


def test_verify_tree_of_interleaved_destinations_is_sorted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = tmp_path / "x"
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: one\n    destination: {x}/a\n"
            f"  - source: two\n    destination: {x}/a-b\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("one/f", "file", "1", 0o644), ("two/g", "file", "2", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0
    assert [n["path"] for n in out["tree"]] == [f"{x}/a", f"{x}/a-b", f"{x}/a-b/g", f"{x}/a/f"]


def test_verify_install_json_complete_and_cleanup_stops_at_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "d"
    extra = (f"permissions:\n  - object: {dest}\n    pattern: a\n    owner: no-such-user-ak\n"
             f"  - object: {dest}\n    pattern: b\n    mode: '600'\n")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest, extra=extra), 0o644),
                                   ("a", "file", "1", 0o644), ("b", "file", "2", 0o644)])
    keep = tmp_path / "keep"
    code, out = verify(capsys, "--hooks", "skip", "--keep", str(keep), str(arc))
    assert code == 1 and out["error"]["message"] == "can't find user for no-such-user-ak"
    group = out["deployment_group_id"]
    instructions = keep / "deployment-root" / "deployment-instructions"
    source = (f"{keep}/deployment-root/{group}/{out['deployment_id']}/deployment-archive")
    listed = os.listdir(source)  # the agent copies in Dir.entries order: as readdir lists
    assert sorted(listed) == ["a", "appspec.yml", "b"]
    assert json.loads((instructions / f"{group}-install.json").read_text()) == {
        "instructions": [
            {"type": "mkdir", "directory": str(dest)},
            *({"type": "copy", "source": f"{source}/{n}", "destination": f"{dest}/{n}"}
              for n in listed),
            {"type": "chown", "owner": "no-such-user-ak", "group": None, "file": f"{dest}/a"},
            {"type": "chmod", "mode": "600", "file": f"{dest}/b"}]}
    assert (instructions / f"{group}-cleanup").read_text() == "".join(
        f"{p}\n" for p in (dest, *(f"{dest}/{n}" for n in listed)))
    assert not list(instructions.glob("*.tmp-*"))


@pytest.mark.parametrize("uname,owner", [("root", "0:1234"), ("no-such-user-ak", "1234:1234")])
def test_verify_member_owner_by_name_when_it_exists_here(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], uname: str, owner: str) -> None:
    # GNU tar as root (--same-owner) maps the archive's user name to this machine's uid
    dest = tmp_path / "d"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("f", "file", "x", 0o644)], uid=1234, uname=uname)
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0
    assert {n["path"]: n["owner"] for n in out["tree"]}[f"{dest}/f"] == owner


@pytest.mark.parametrize(("raw", "message"), [
    (b"caf\xe9.txt", "source sequence is illegal/malformed utf-8"),
    (b"caf\xe9", "partial character in source, but hit end")])
def test_verify_member_names_that_are_not_utf8_fail_install_1x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, message: str) -> None:
    # a Latin-1 file name from an old build box: agent 1.x's to_json of the install
    # instructions raises (json 2.6, Ruby 3.2) after opening install.json, before any copy
    dest = tmp_path / "d"
    name = os.fsdecode(raw)
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   (name, "file", "x", 0o644)])
    keep = tmp_path / "keep"
    code, out = verify(capsys, "--hooks", "skip", "--keep", str(keep), str(arc))
    assert code == 1 and out["failed_event"] == "Install"
    assert out["error"]["message"] == message
    assert [(f["code"], f["severity"], f["message"]) for f in out["findings"]] == [
        ("AK407", "warning", f"member {name!r}: the name is not UTF-8; if a `files` entry "
                             "installs it, the agent cannot write install.json (Ruby's JSON "
                             "refuses it) and Install fails before copying anything")]
    instructions = keep / "deployment-root" / "deployment-instructions"
    assert (instructions / "dg-verify-install.json").read_bytes() == b""
    assert not (instructions / "dg-verify-cleanup").exists() and out["changes"] == []


def test_verify_name_not_utf8_outside_the_files_is_only_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "d"
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("app/a", "file", "1", 0o644),
                                   (os.fsdecode(b"other/caf\xe9"), "file", "x", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert (code, out["result"]) == (0, "succeeded")
    assert [(f["code"], f["severity"]) for f in out["findings"]] == [("AK407", "warning")]


def test_verify_member_names_that_are_not_utf8_2x(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # what 2.x does is not known: installed, kept by its bytes, said in a warning
    dest = tmp_path / "d"
    name = os.fsdecode(b"caf\xe9.txt")
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   (name, "file", "x", 0o644)])
    state = tmp_path / "state"
    code, out = verify(capsys, "--hooks", "skip", "--agent", "2", "--state-dir", str(state),
                       str(arc))
    assert code == 0 and [f["code"] for f in out["findings"]] == ["AK407"]
    assert {n["path"] for n in out["tree"]} >= {f"{dest}/{name}"}
    assert {c["path"]: c["change"] for c in out["changes"]}[f"{dest}/{name}"] == "created"
    install = (state / "deployment-root" / "deployment-instructions" /
               "dg-verify-install.json").read_bytes()
    assert b"/caf\xe9.txt" in install  # written as they are, as the agent's writers do
    # the next revision removes it through the cleanup file, as the agent would
    arc2 = tar(tmp_path / "b.tgz", [("appspec.yml", "file", appspec(dest), 0o644)])
    code, out = verify(capsys, "--hooks", "skip", "--agent", "2", "--state-dir", str(state),
                       str(arc2))
    assert code == 0 and f"{dest}/{name}" not in {n["path"] for n in out["tree"]}


@pytest.mark.parametrize("fmt,hashed", [("text", 0), ("json", 2)])
def test_verify_hashes_bundle_files_only_for_the_json_tree(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, hashed: int) -> None:
    # the text report shows no digests: reading 200 MB of bundle through sha256 for nothing
    # was a third of DownloadBundle's time
    import sqlite3

    dest = tmp_path / "d"
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(dest), 0o644),
                                   ("f", "file", "x", 0o644)])
    keep = tmp_path / "keep"
    assert main(["verify", "--hooks", "skip", "--format", fmt, "--keep", str(keep),
                 str(arc)]) == 0
    capsys.readouterr()
    with sqlite3.connect(keep / "sandbox" / "sandbox.db") as db:
        rows = db.execute("SELECT rel FROM member WHERE sha IS NOT NULL ORDER BY rel").fetchall()
    assert rows == ([("appspec.yml",), ("f",)] if hashed else [])


def _verify_kept(capsys: pytest.CaptureFixture[str], keep: Path, arc: Path, *args: str
                 ) -> tuple[dict[str, Any], str, str, list[Any]]:
    """verify --format json, what it reported, install.json, the cleanup file and the
    sandbox's records, with the --keep directory's own path taken out."""
    import sqlite3

    code, out = verify(capsys, "--hooks", "skip", "--keep", str(keep), *args, str(arc))
    out.pop("deployment_id")
    out["exit code"] = code
    instructions = keep / "deployment-root" / "deployment-instructions"
    group = out["deployment_group_id"]
    with sqlite3.connect(keep / "sandbox" / "sandbox.db") as db:
        nodes = db.execute("SELECT * FROM node ORDER BY path").fetchall()
    out, nodes = json.loads(json.dumps([out, nodes]).replace(str(keep), "KEEP"))
    return (out, (instructions / f"{group}-install.json").read_text().replace(str(keep), "KEEP"),
            (instructions / f"{group}-cleanup").read_text(errors="surrogateescape"), nodes)


@pytest.mark.parametrize(("agent", "dest_name"), [("1", "d"), ("2", "d"), ("1", "dëst")])
def test_verify_bulk_recorded_copies_same_as_one_by_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        agent: str, dest_name: str) -> None:
    # Copies into directories the plan makes are planned and recorded in bulk; without that
    # every copy goes the general way. Both must leave exactly the same deployment. Agent 2.x
    # fails on the second copy (a file onto a directory): what comes after it never happens.
    from agentkit.agent import installer
    from agentkit.commands import verify as verify_cmd
    from agentkit.hostview import store

    monkeypatch.setattr(verify_cmd, "deployment_id", lambda: "d-SAME00001")
    dest, existing = tmp_path / dest_name, tmp_path / "existing"
    (existing / "over.txt").mkdir(parents=True)
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: first.txt\n    destination: {dest}\n"
            f"  - source: over.txt\n    destination: {existing}\n"
            f"  - source: /\n    destination: {dest}/all\n"
            f"file_exists_behavior: OVERWRITE\npermissions:\n  - object: {dest}/all/web\n"
            f"    pattern: 'a*'\n    mode: '600'\n    type: [file]\n")
    name = "café.txt"  # (names that are not UTF-8 fail Install in 1.x: tested below)
    arc = tar(tmp_path / "a.tgz", [
        ("rel/appspec.yml", "file", spec, 0o644), ("rel/over.txt", "file", "new", 0o600),
        ("rel/first.txt", "file", "1", 0o644),
        ("rel/web/a.css", "file", "a", 0o644), ("rel/web/b.css", "file", "b", 0o640),
        ("rel/web/latest", "symlink", "a.css", 0o777), ("rel/web/deep/x/y.js", "file", "y", 0o755),
        (f"rel/web/{name}", "file", "é", 0o644), ("rel/web/.env", "file", "e", 0o600),
        ("rel/zz/last.txt", "file", "z", 0o644)],
        uid=1234)
    bulk = _verify_kept(capsys, tmp_path / "bulk", arc, "--agent", agent)
    monkeypatch.setattr(installer, "BULK", False)
    single = _verify_kept(capsys, tmp_path / "single", arc, "--agent", agent)
    assert bulk == single
    out, _, cleanup, nodes = bulk
    # state 3: a bundle file recorded; paths are stored as keys (agentkit.hostview.store.key)
    recorded = {store.unkey(n[0]) for n in nodes if n[2] == 3}
    if agent == "1":
        assert out["result"] == "succeeded"
        assert f"{dest}/all/zz/last.txt\n" in cleanup
        assert {f"{dest}/first.txt", f"{dest}/all/zz/last.txt",
                f"{dest}/all/web/b.css"} <= recorded
    else:
        assert out["error"]["message"] == ("Install failed for group dg-verify: IO error: Is a "
                                           "directory (os error 21)")
        assert cleanup == f"{dest}\n{dest}/first.txt\n{existing}/over.txt\n"
        assert recorded == {f"{dest}/first.txt"}


def test_verify_text_counts_of_changes_same_as_the_json_list(tmp_path: Path) -> None:
    # the text report counts the files of new directories by directory: same totals
    from collections import Counter

    from agentkit.verify import run
    from agentkit.verify.options import AgentOptions, BoxOptions, Options, ReportOptions

    dest, host = tmp_path / "d", tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "old.conf").write_text("old")
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
            f"  - source: conf\n    destination: {host}/etc\n"
            "file_exists_behavior: OVERWRITE\n")
    members = [("appspec.yml", "file", spec, 0o644), ("conf/old.conf", "file", "new", 0o600),
               ("conf/new.conf", "file", "n", 0o644)]
    members += [(f"app/d{i % 3}/f{i}", "file", str(i), 0o644) for i in range(20)]
    first = tar(tmp_path / "a.tgz", members)
    second = tar(tmp_path / "b.tgz", [("appspec.yml", "file", spec, 0o644),
                                      ("conf/old.conf", "file", "v2", 0o600),
                                      ("app/d0/f0", "file", "x", 0o644)])
    work = tmp_path / "work"
    work.mkdir()
    expected = [{"created": 25, "modified": 1}, {"created": 3, "modified": 1}]
    for n, (archive, want) in enumerate(zip((first, second), expected)):
        result = run.revision(Options(str(archive), AgentOptions(deployment_id=f"d-COUNT000{n}"),
                                       BoxOptions(hooks="skip"), ReportOptions(digests=False)),
                               str(work))
        assert result.succeeded
        listed = Counter(node.change for node in result.changes)
        assert result.changes.counts() == dict(listed) == want


@pytest.mark.skipif(os.geteuid() == 0 or os.access("/root", os.X_OK),
                    reason="needs a user who may not look into /root")
def test_verify_unprivileged_names_what_it_could_not_look_into(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the agent, as root, sees inside /root; this user does not: the verdict is what the agent
    # gives when nothing of the deployment is there yet, and one note says why
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec("/root/agentkit-app"), 0o644),
                                   ("index.html", "file", "x", 0o644)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 0
    assert out["result"] == "succeeded"
    assert ("this user may not look into /root: verify assumed the deployment finds nothing of "
            "its own there. The agent, as root, sees what is there; run verify as root to "
            "check those paths too") in out["notes"]
    assert {n["path"] for n in out["tree"]} == {"/root/agentkit-app",
                                                "/root/agentkit-app/appspec.yml",
                                                "/root/agentkit-app/index.html"}


def test_verify_findings_once_per_file_and_per_link(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # one CRLF script under three events, one linked directory under two destinations
    target = tmp_path / "outside"
    target.mkdir()
    (target / "f").write_text("x")
    hooks = "".join(f"  {e}:\n    - location: s/a.sh\n"
                    for e in ("BeforeInstall", "AfterInstall", "ApplicationStart"))
    extra = f"  - source: /\n    destination: {tmp_path}/second\n"
    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "d", hooks).replace(
            "hooks:\n", extra + "hooks:\n"), 0o644),
        ("s/a.sh", "file", "#!/bin/sh\r\nexit 0\n", 0o755),
        ("media", "symlink", str(target), 0o777)])
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert code == 1
    assert [(f["code"], f["path"]) for f in out["findings"]] == [("AK510", "media"),
                                                                ("AK504", "s/a.sh")]
    assert out["findings"][1]["message"].startswith(
        "hooks > BeforeInstall, AfterInstall, ApplicationStart > s/a.sh: the shebang line "
        "ends in CR")


def test_verify_text_header_with_previous(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = tar(tmp_path / "first.tgz", [("appspec.yml", "file", appspec(tmp_path / "d"),
                                          0o644), ("a.txt", "file", "1", 0o644)])
    second = tar(tmp_path / "second.tgz", [("appspec.yml", "file", 'version: "0.0"\n', 0o644)])
    assert main(["verify", "--hooks", "skip", "--previous", str(first), str(second)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"agentkit verify {second} (tgz bundle, agent 1.x, group "
                               "dg-verify, deployment d-")
    assert lines[1] == f"previous revision {first}: succeeded"
    assert main(["verify", "--hooks", "skip", "--previous", str(second), str(first)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        f"previous revision {second}: failed in BeforeInstall")


def test_verify_directory_with_unreadable_hook_script_is_a_clear_error(tmp_path: Path) -> None:
    from ..unprivileged import run_cli

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "appspec.yml").write_text(
        appspec(tmp_path / "app", "  AfterInstall:\n    - location: run.sh\n"))
    (bundle / "run.sh").write_text(script())
    (bundle / "run.sh").chmod(0o000)
    assert run_cli(["verify", "--hooks", "skip", str(bundle)]) == (1, "", (
        f"agentkit: error: {bundle}/run.sh: cannot be read (Permission denied). verify copies a "
        "bundle directory as the agent does, and the agent reads it as root: run verify as a "
        "user who can read every file of the bundle, or make them readable (chmod -R a+rX "
        f"{bundle}).\n"))
    assert not (tmp_path / "app").exists()


def test_verify_archive_with_unreadable_hook_script_is_a_finding(tmp_path: Path) -> None:
    # tar -p gives the unpacked script mode 000: the agent, as root, reads it anyway
    from ..unprivileged import run_cli

    arc = tar(tmp_path / "a.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", "  AfterInstall:\n"
                                        "    - location: run.sh\n"), 0o644),
        ("run.sh", "file", script(), 0o000)])
    code, out, err = run_cli(["verify", "--format", "json", "--hooks", "skip", str(arc)])
    assert (code, err) == (0, "")
    assert [(f["code"], f["path"], f["message"]) for f in json.loads(out)["findings"]] == [
        ("AK501", "run.sh", "hooks > AfterInstall > run.sh: not executable; the agent runs "
         "chmod +x on it itself"),
        ("AK508", "run.sh", "hooks > AfterInstall > run.sh: this user cannot read the script "
         "(Permission denied), so its first line (shebang, BOM, line ending) is not checked; "
         "the agent, as root, reads it")]


def test_verify_directory_link_part_unreadable_is_undetermined(tmp_path: Path) -> None:
    # A plain user may not read part of what the agent, as root, copies (issue 29): the tree
    # and the hooks after Install would lack it, so the verdict is undetermined, not "would
    # succeed" over a different tree. (Root runs this without DAC: bound_by_permissions.)
    from ..unprivileged import run_cli

    share = tmp_path / "efs" / "media"
    (share / "private").mkdir(parents=True)
    (share / "public.jpg").write_bytes(b"x")
    (share / "private" / "secret.jpg").write_bytes(b"y")
    (share / "private").chmod(0o000)
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", appspec(tmp_path / "rel"), 0o644),
                                   ("media", "symlink", str(share), 0o777)])
    try:
        code, out, err = run_cli(["verify", "--format", "json", str(arc)])
    finally:
        (share / "private").chmod(0o755)
    assert (code, err) == (1, "")  # AK510 is an error finding
    report = json.loads(out)
    assert report["result"] == "undetermined"
    assert report["undetermined"] == (
        f"Install copies {share} (the bundle's link media), and this user may not read "
        f"{share}/private: what the instance gets there is not known; run verify as root for "
        "a verdict")
    assert [f["message"] for f in report["findings"] if f["code"] == "AK510"] == [
        f"the agent copies everything under {share} (a linked directory outside the bundle) "
        f"onto the instance, whatever it holds there; this user may not read {share}/private: "
        "the tree does not show it"]
