"""assemble.result: the one value a deployment leaves, through verify.run.revision on real
archives (hooks skipped: the box is not what is tested here)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agentkit.verify import assemble, run
from agentkit.verify.options import AgentOptions, BoxOptions, Options, ReportOptions
from agentkit.verify.result import Node, VerifyResult

from ..archives import tar, zip_

SHA_A = hashlib.sha256(b"a").hexdigest()
ALL_PATHS = ReportOptions()


def _verify(tmp_path: Path, archive: Path, report: ReportOptions = ALL_PATHS,
            deployment_id: str = "d-ASSEMBLE1") -> VerifyResult:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    opts = Options(str(archive), AgentOptions(deployment_id=deployment_id),
                   BoxOptions(hooks="skip"), report)
    return run.revision(opts, str(work))


def _members(dest: Path) -> list[tuple[str, str, str | bytes, int]]:
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    return [("appspec.yml", "file", spec, 0o644), ("app/a.txt", "file", "a", 0o640)]


def test_result_tree_and_changes_list_what_install_wrote(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    result = _verify(tmp_path, tar(tmp_path / "b.tgz", _members(dest)))
    tree = [Node(str(dest), "dir", "0755", None, None, "0:0", None),
            Node(f"{dest}/a.txt", "file", "0640", None, SHA_A, "0:0", None)]
    assert list(result.tree) == tree
    assert list(result.changes) == [n._replace(change="created") for n in tree]
    assert result.changes.counts() == {"created": 2}
    assert sorted(os.listdir(tmp_path / "work")) == [
        "deployment-root", "report-d-ASSEMBLE1.changes", "report-d-ASSEMBLE1.tree", "sandbox"]


def test_result_without_paths_only_counts_and_spills_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    result = _verify(tmp_path, tar(tmp_path / "b.tgz", _members(dest)),
                     ReportOptions(paths=False))
    assert (list(result.tree), list(result.changes), result.changes.counts()) == (
        [], [], {"created": 2})
    assert not [n for n in os.listdir(tmp_path / "work") if n.startswith("report-")]


def test_result_header_values(tmp_path: Path) -> None:
    archive = tar(tmp_path / "b.tgz", _members(tmp_path / "dest"))
    result = _verify(tmp_path, archive, deployment_id="d-HEADER01")
    assert (result.archive, result.agent, result.bundle_type, result.deployment_group_id,
            result.deployment_id, result.failure, result.undetermined, result.members,
            result.scripts_log, result.outcome) == (
        str(archive), "1", "tgz", "dg-verify", "d-HEADER01", None, None, 2, "", "succeeded")
    assert [e.name for e in result.events] == [
        "BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
        "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService",
        "BeforeAllowTraffic", "AfterAllowTraffic"]


def test_result_zip_bundle_type(tmp_path: Path) -> None:
    result = _verify(tmp_path, zip_(tmp_path / "b.zip", _members(tmp_path / "dest")))
    assert (result.bundle_type, result.outcome) == ("zip", "succeeded")


@pytest.mark.parametrize("count, shown", [
    (1, "/a0"), (5, "/a0, /a1, /a2, /a3, /a4"),
    (6, "/a0, /a1, /a2, /a3, /a4 and 1 more"), (7, "/a0, /a1, /a2, /a3, /a4 and 2 more")])
def test_unseen_note_names_five_paths_at_most(count: int, shown: str) -> None:
    assert assemble.unseen_note([f"/a{i}" for i in range(count)]) == (
        f"this user may not look into {shown}: verify assumed the deployment finds nothing "
        "of its own there. The agent, as root, sees what is there; run verify as root to "
        "check those paths too")
