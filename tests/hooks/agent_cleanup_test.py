"""link-shared keeps what now lives on the share out of the agent's next cleanup: the lines
below each link go from `<root>/deployment-instructions/<group>-cleanup`, the rest stays
byte for byte, and the file is replaced whole, never written through a link."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import agent_cleanup, link_shared
from agentkit.hooks.config import Config

GROUP = "dg-1234"


def _deployment(tmp: Path) -> tuple[Path, Path]:
    """An agent deployment root as the agent lays it out, and its group's cleanup file."""
    root = tmp / "deployment-root"
    archive = root / GROUP / "d-ABC" / "deployment-archive"
    archive.mkdir(parents=True)
    (root / "deployment-instructions").mkdir()
    return archive, root / "deployment-instructions" / f"{GROUP}-cleanup"


def test_agent_cleanup_prune_drops_only_lines_below_the_links() -> None:
    data = (b"/srv/app/index.html\n/srv/app/media\n/srv/app/media/a.jpg\n"
            b"/srv/app/media/sub/b.jpg\n/srv/app/mediakit/x\n"
            b"semanage\0/srv/app/media/a.jpg\n/srv/app/media/unfinished")
    pruned, removed = agent_cleanup.prune(data, ["/srv/app/media"])
    assert removed == 2
    assert pruned == (b"/srv/app/index.html\n/srv/app/media\n/srv/app/mediakit/x\n"
                      b"semanage\0/srv/app/media/a.jpg\n/srv/app/media/unfinished")


def test_agent_cleanup_link_shared_prunes_the_groups_cleanup_file(
        tmp_path: Path, make_config: Callable[[str], Config], log: Any,
        captured: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    archive, cleanup = _deployment(tmp_path)
    release = tmp_path / "release"
    (release / "media").mkdir(parents=True)
    (release / "media/a.jpg").write_text("a")
    cleanup.write_bytes(f"{release}/index.html\n{release}/media\n{release}/media/a.jpg\n"
                        .encode())
    os.chmod(cleanup, 0o640)
    monkeypatch.setenv("DEPLOYMENT_GROUP_ID", GROUP)
    cfg = make_config(f"version: 1\nrelease: {release}\nshared:\n  root: {tmp_path}/share\n"
                      "  dirs: [media]\n  on_conflict: seed\n")
    cfg = dataclasses.replace(cfg, path=str(archive / "agentkit.yml"))
    link_shared.run(cfg, log)
    assert os.readlink(release / "media") == f"{tmp_path}/share/media"
    assert cleanup.read_text() == f"{release}/index.html\n{release}/media\n"
    assert os.stat(cleanup).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(cleanup.parent)) == [f"{GROUP}-cleanup"]  # no temporary left
    event = captured[-1]
    assert (event["event"], event["lines_removed"], event["file"]) == (
        "the agent's cleanup file no longer names what is now on the share (the next "
        "deployment would delete it there)", 1, str(cleanup))


def test_agent_cleanup_never_writes_through_a_linked_cleanup_file(
        tmp_path: Path, log: Any, captured: list[dict[str, Any]]) -> None:
    archive, cleanup = _deployment(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("/srv/app/media/a.jpg\n")
    os.symlink(victim, cleanup)
    agent_cleanup.keep_out(["/srv/app/media"], str(archive / "agentkit.yml"), log, False,
                           env={"DEPLOYMENT_GROUP_ID": GROUP})
    assert victim.read_text() == "/srv/app/media/a.jpg\n"
    assert os.path.islink(cleanup)
    assert captured[-1]["event"] == ("the agent's cleanup file cannot be read: the next "
                                     "deployment's cleanup may delete files on the share")


def test_agent_cleanup_unwritable_directory_fails_with_the_fix(
        tmp_path: Path, log: Any) -> None:
    archive, cleanup = _deployment(tmp_path)
    cleanup.write_text("/srv/app/media/a.jpg\n")
    if os.geteuid() == 0:
        pytest.skip("root may write any directory; the refusal needs a plain user")
    os.chmod(cleanup.parent, 0o555)
    try:
        with pytest.raises(HookFailed) as exc:
            agent_cleanup.keep_out(["/srv/app/media"], str(archive / "agentkit.yml"), log,
                                   False, env={"DEPLOYMENT_GROUP_ID": GROUP})
    finally:
        os.chmod(cleanup.parent, 0o755)
    assert str(exc.value) == (
        f"{cleanup}: cannot rewrite the agent's cleanup file (Permission denied): it still "
        "names 1 path(s) below the links, which the next deployment's cleanup would delete "
        "on the share. Run link-shared as root (no `runas` for its hook), then deploy again.")
    assert cleanup.read_text() == "/srv/app/media/a.jpg\n"


def test_agent_cleanup_dry_run_changes_nothing(tmp_path: Path, log: Any,
                                               captured: list[dict[str, Any]]) -> None:
    archive, cleanup = _deployment(tmp_path)
    cleanup.write_text("/srv/app/media/a.jpg\n")
    agent_cleanup.keep_out(["/srv/app/media"], str(archive / "agentkit.yml"), log, True,
                           env={"DEPLOYMENT_GROUP_ID": GROUP})
    assert cleanup.read_text() == "/srv/app/media/a.jpg\n"
    assert captured[-1]["dry_run"] is True


def test_agent_cleanup_root_dir_from_the_agent_config(tmp_path: Path, log: Any) -> None:
    _archive, cleanup = _deployment(tmp_path)
    cleanup.write_text("/srv/app/media/a.jpg\n/srv/app/x\n")
    conf = tmp_path / "codedeployagent.yml"
    conf.write_text(f"---\n:log_aws_wire: false\n:root_dir: '{tmp_path}/deployment-root'\n")
    agent_cleanup.keep_out(["/srv/app/media"], str(tmp_path / "elsewhere/agentkit.yml"), log,
                           False, env={"DEPLOYMENT_GROUP_ID": GROUP}, agent_config=str(conf))
    assert cleanup.read_text() == "/srv/app/x\n"
