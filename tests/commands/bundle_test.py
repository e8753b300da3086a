"""`agentkit bundle`: the same tree gives the same bytes, normalised as the agent needs it,
and what the agent would get wrong is refused with the finding verify gives."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from agentkit.cli import main

from ..archives import appspec, script
from ..unprivileged import run_cli

HOOKS = "  AfterInstall:\n    - location: scripts/start.sh\n"


def _tree(root: Path, dest: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "site" / "img").mkdir(parents=True)
    (root / "appspec.yml").write_text(appspec(dest, HOOKS))
    (root / "scripts" / "start.sh").write_text(script("echo started\n"))
    (root / "scripts" / "start.sh").chmod(0o700)  # a private build: normalised to 0755
    (root / "site" / "index.html").write_text("<h1>hi</h1>")
    (root / "site" / "index.html").chmod(0o600)
    (root / "site" / "img" / "a.png").write_bytes(b"png")
    (root / "site" / "current").symlink_to("img/a.png")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    root.chmod(0o700)
    return root


def _bundle(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bundle", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundle_same_tree_gives_the_same_bytes(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    code, out, _ = _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"), "--mtime",
                           "1700000000")
    assert code == 0
    os.utime(tree / "site" / "index.html", (1, 1))  # only times change, and a mode bit
    (tree / "site" / "img" / "a.png").chmod(0o640)
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "b.tgz"), "--mtime",
                   "1700000000")[0] == 0
    assert _sha(tmp_path / "a.tgz") == _sha(tmp_path / "b.tgz")
    assert out == (f"{tmp_path}/a.tgz: 8 member(s), mtime 1700000000, sha256 "
                   f"{_sha(tmp_path / 'a.tgz')}\n")
    raw = (tmp_path / "a.tgz").read_bytes()
    assert raw[3] & 0x08 == 0 and raw[4:8] == b"\0\0\0\0"  # gzip: no name, no time
    with tarfile.open(tmp_path / "a.tgz") as tar:
        members = [(m.name, m.type, oct(m.mode), m.uid, m.gid, m.uname, m.mtime)
                   for m in tar.getmembers()]
    f, d, s = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE
    assert members == [  # no ./ entry, no .git, sorted, one time, owner 0:0
        ("appspec.yml", f, "0o644", 0, 0, "", 1700000000),
        ("scripts", d, "0o755", 0, 0, "", 1700000000),
        ("scripts/start.sh", f, "0o755", 0, 0, "", 1700000000),
        ("site", d, "0o755", 0, 0, "", 1700000000),
        ("site/current", s, "0o777", 0, 0, "", 1700000000),
        ("site/img", d, "0o755", 0, 0, "", 1700000000),
        ("site/img/a.png", f, "0o644", 0, 0, "", 1700000000),
        ("site/index.html", f, "0o644", 0, 0, "", 1700000000)]


def test_bundle_mtime_comes_from_source_date_epoch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"))[0] == 0
    with tarfile.open(tmp_path / "a.tgz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1600000000}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "b.tgz")) == (
        1, "", "agentkit: error: SOURCE_DATE_EPOCH='yesterday': expected seconds since 1970 "
        "(reproducible-builds.org), e.g. $(git log -1 --format=%ct).")


@pytest.mark.parametrize(("target", "code"), [("/mnt/efs/media", "AK511"),
                                               ("../../shared/media", "AK513")])
def test_bundle_link_out_of_the_tree_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, code: str) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tree / "site" / "media").symlink_to(target)
    out = tmp_path / "a.tgz"
    assert _bundle(capsys, str(tree), "-o", str(out), "--mtime", "0") == (
        1, "", f"agentkit: error: {tree}/site/media -> {target}: a link out of the bundle "
        f"({code}): the agent installs it as it is, and a link to a directory copies whatever "
        "the target holds on each instance (shared storage included). Ship the files, make "
        "the link in a hook (agentkit hook link-shared), or pass --allow-external-links to "
        "keep it.")
    assert os.listdir(tmp_path) == ["t"]  # nothing half-written
    assert _bundle(capsys, str(tree), "-o", str(out), "--mtime", "0",
                   "--allow-external-links")[0] == 0
    with tarfile.open(out) as tar:
        assert tar.getmember("site/media").linkname == target


def test_bundle_link_to_a_directory_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tree / "site" / "latest").symlink_to("img")
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"), "--mtime", "0") == (
        1, "", f"agentkit: error: {tree}/site/latest -> img: a link to a directory (AK510): "
        "the agent copies the directory's content in its place instead of installing the "
        "link. Ship the directory itself, or make the link in a hook (AfterInstall).")


def test_bundle_fifo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    os.mkfifo(tree / "site" / "pipe")
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"), "--mtime", "0") == (
        1, "", f"agentkit: error: {tree}/site/pipe: a device or fifo (AK403): the agent "
        "creates it as root on every instance; remove it from the tree.")
    assert os.listdir(tmp_path) == ["t"]


def test_bundle_needs_an_appspec_and_an_output_outside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert _bundle(capsys, str(tmp_path / "empty"), "-o", str(tmp_path / "a.tgz")) == (
        1, "", f"agentkit: error: {tmp_path}/empty: no appspec.yml at its top; the agent "
        "looks for it there (agentkit appspec generate writes one).")
    tree = _tree(tmp_path / "t", tmp_path / "app")
    assert _bundle(capsys, str(tree), "-o", str(tree / "a.tgz")) == (
        1, "", f"agentkit: error: {tree}/a.tgz: inside the tree being bundled; write it "
        "elsewhere.")


def test_bundle_output_directory_missing_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    out = tmp_path / "nodir" / "x.tgz"
    assert _bundle(capsys, str(tree), "-o", str(out), "--mtime", "0") == (
        1, "", f"agentkit: error: {out}: the directory {tmp_path}/nodir does not exist; create "
        f"it first (mkdir -p {tmp_path}/nodir) or write the archive elsewhere.")
    assert sorted(os.listdir(tmp_path)) == ["t"]


def test_bundle_output_not_writable_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tmp_path / "out").mkdir()
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "out"), "--mtime", "0") == (
        1, "", f"agentkit: error: {tmp_path}/out: cannot be written (Is a directory); check "
        "the directory's permissions and free space, or write the archive elsewhere.")
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("fmt", ["tgz", "zip"])
def test_bundle_unreadable_file_is_a_clear_error(tmp_path: Path, fmt: str) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tree / "scripts" / "start.sh").chmod(0o000)
    out = tmp_path / f"a.{fmt}"
    assert run_cli(["bundle", str(tree), "-o", str(out), "--format", fmt, "--mtime", "0"]) == (
        1, "", f"agentkit: error: {tree}/scripts/start.sh: cannot be read (Permission denied); "
        "the bundle needs every file of the tree: make it readable (chmod a+r), or remove "
        "it.\n")
    assert sorted(os.listdir(tmp_path)) == ["t"]


@pytest.mark.parametrize("fmt", ["tgz", "zip"])
@pytest.mark.parametrize("agent", ["1", "2"])
def test_bundle_is_verify_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                fmt: str, agent: str) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    out = tmp_path / f"a.{fmt}"
    assert _bundle(capsys, str(tree), "-o", str(out), "--format", fmt, "--mtime", "0")[0] == 0
    if fmt == "zip":
        with zipfile.ZipFile(out) as zf:
            assert [(i.filename, i.external_attr >> 16) for i in zf.infolist()][:3] == [
                ("appspec.yml", 0o100644), ("scripts/", 0o40755),
                ("scripts/start.sh", 0o100755)]
    code = main(["verify", "--format", "json", "--hooks", "skip", "--agent", agent, str(out)])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["result"], report["findings"]) == (0, "succeeded", [])
    tree_paths = {n["path"]: n["mode"] for n in report["tree"]}
    assert tree_paths[f"{tmp_path}/app/scripts/start.sh"] == "0755"
    assert tree_paths[f"{tmp_path}/app/site/index.html"] == "0644"


def test_bundle_lint_error_crlf_script_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """lint's checks run before packaging: a CRLF hook script fails the deployment, so the
    archive is refused as a link out of the tree is, naming the flag that packages it."""
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tree / "scripts" / "start.sh").write_bytes(b"#!/bin/sh\r\necho started\r\n")
    shown = tree / "scripts" / "start.sh"
    assert _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"), "--mtime", "0") == (
        1, "", f"agentkit: error: {tree}: lint finds 1 error(s) the deployment would fail on, "
        "so bundle refuses to package it:\n"
        f"{shown}:1:10: error AK504: hooks > AfterInstall > scripts/start.sh: the shebang line "
        "ends in CR (Windows line endings): the kernel looks for an interpreter named with a "
        "trailing \\r and the agent reports a misleading 'No such file'\n"
        "    fix: convert the script to LF line endings (dos2unix; .gitattributes `*.sh text "
        "eol=lf`)\n"
        f"    agent says: Script at specified location: {shown} failed with error "
        f"Errno::ENOENT with message No such file or directory - {shown}\n"
        f"Fix them (`agentkit lint {tree}` checks again), or pass --allow-lint-errors to "
        "package it anyway.")
    assert not (tmp_path / "a.tgz").exists()


def test_bundle_lint_error_version_string_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    text = (tree / "appspec.yml").read_text().replace("version: 0.0", 'version: "0.0"')
    (tree / "appspec.yml").write_text(text)
    code, out, err = _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"))
    assert (code, out) == (1, "")
    assert err.splitlines()[:2] == [
        f"agentkit: error: {tree}: lint finds 1 error(s) the deployment would fail on, so "
        "bundle refuses to package it:",
        f"{tree}/appspec.yml:1:10: error AK110: version: expected the number 0.0, got the "
        'string "0.0"']


def test_bundle_allow_lint_errors_packages(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path / "t", tmp_path / "app")
    (tree / "scripts" / "start.sh").write_bytes(b"#!/bin/sh\r\necho started\r\n")
    code, out, err = _bundle(capsys, str(tree), "-o", str(tmp_path / "a.tgz"), "--mtime", "0",
                             "--allow-lint-errors")
    assert (code, err) == (0, "")
    assert out.startswith(f"{tmp_path}/a.tgz: 8 member(s), mtime 0, sha256 ")
