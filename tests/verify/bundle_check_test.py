"""bundle_check.check: which appspec Install reads, and what the bundle is judged by."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentkit.findings import ERROR, Finding
from agentkit.verify.bundle_check import NOT_FOUND, Checked, check

SPEC = "version: 0.0\nos: linux\n"
SHOWN = "/opt/codedeploy-agent/deployment-root/dg/d-1/deployment-archive"


def _check(archive: Path, name: str = "appspec.yml") -> Checked:
    def shown(path: str) -> str:
        return SHOWN + path[len(str(archive)):]
    return check(str(archive), shown, name, "1", (), None, "")


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    archive = tmp_path / "bundle"
    archive.mkdir()
    for rel, text in files.items():
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        (archive / rel).write_text(text)
    return archive


def test_check_no_appspec_is_ak150_with_the_agents_message(tmp_path: Path) -> None:
    checked = _check(_bundle(tmp_path, {"app/a.txt": "a"}))
    assert checked == Checked(None, [Finding(
        ERROR, "AK150", "appspec.yml", None, None,
        "no appspec.yml (or appspec.yaml, appspec.yml) at the bundle root",
        "put appspec.yml at the root of the bundle",
        NOT_FOUND.format(archive=SHOWN, name="appspec.yml"))], None)


def test_check_appspec_one_level_down_says_where(tmp_path: Path) -> None:
    archive = _bundle(tmp_path, {"myapp/appspec.yml": SPEC})
    [finding] = _check(archive).findings
    assert finding.message == (
        "no appspec.yml (or appspec.yaml, appspec.yml) at the bundle root; there is one at "
        "myapp/appspec.yml: the archive was made from a directory above the bundle, so put "
        "what myapp/ holds at the archive's root (tar -C myapp -czf app.tgz ., or zip from "
        "inside it; agentkit bundle does this)")


@pytest.mark.parametrize("name, present, read", [
    ("appspec.yml", ("appspec.yml", "appspec.yaml"), "appspec.yml"),
    ("custom.yml", ("appspec.yml", "appspec.yaml"), "appspec.yaml"),
    ("custom.yml", ("appspec.yml", "custom.yml", "appspec.yaml"), "custom.yml"),
    ("custom.yml", ("appspec.yml",), "appspec.yml")])
def test_check_reads_names_in_installs_order(tmp_path: Path, name: str,
                                             present: tuple[str, ...], read: str) -> None:
    checked = _check(_bundle(tmp_path, {p: SPEC for p in present}), name)
    assert checked.lint is not None
    assert (checked.lint.path, checked.lint.agent_verdict, checked.findings, checked.halt) == (
        f"{SHOWN}/{read}", "accepted", [], None)


def test_check_directory_named_appspec_is_passed_over(tmp_path: Path) -> None:
    archive = _bundle(tmp_path, {"appspec.yml/x": "", "appspec.yaml": SPEC})
    checked = _check(archive)
    assert checked.lint is not None and checked.lint.path == f"{SHOWN}/appspec.yaml"


def test_check_appspec_linked_out_of_the_bundle_halts(tmp_path: Path) -> None:
    archive = _bundle(tmp_path, {})
    host = tmp_path / "host.yml"
    host.write_text(SPEC)
    os.symlink(host, archive / "appspec.yml")
    checked = _check(archive)
    assert (checked.lint, checked.halt) == (
        None, "appspec.yml is a file of the instance, not of the bundle (AK152)")
    # the appspec's own finding, then the tree's (bundle/checks.py words both)
    assert [(f.code, f.path) for f in checked.findings] == [
        ("AK152", f"{SHOWN}/appspec.yml"), ("AK511", f"{SHOWN}/appspec.yml")]


def test_check_missing_hook_script_is_found(tmp_path: Path) -> None:
    spec = SPEC + "hooks:\n  AfterInstall:\n    - location: scripts/go.sh\n"
    checked = _check(_bundle(tmp_path, {"appspec.yml": spec}))
    assert checked.lint is not None and checked.lint.agent_verdict == "accepted"
    assert [(f.code, f.path) for f in checked.findings] == [("AK500", f"{SHOWN}/scripts/go.sh")]
