"""layout.Deployment: the agent's deployment root, its markers and its revision retention."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit.agent.layout import Deployment, write_marker


def _dep(tmp_path: Path, deployment_id: str = "d-NEW") -> Deployment:
    dep = Deployment(str(tmp_path / "root"), "dg-1", deployment_id)
    dep.create()
    return dep


def test_deployment_paths_are_the_agents(tmp_path: Path) -> None:
    dep = Deployment("/r", "g", "d-1")
    assert (dep.dir, dep.archive, dep.scripts_log, dep.instructions, dep.cleanup_file,
            dep.install_json, dep.last_successful, dep.most_recent) == (
        "/r/g/d-1", "/r/g/d-1/deployment-archive", "/r/g/d-1/logs/scripts.log",
        "/r/deployment-instructions", "/r/deployment-instructions/g-cleanup",
        "/r/deployment-instructions/g-install.json",
        "/r/deployment-instructions/g_last_successful_install",
        "/r/deployment-instructions/g_most_recent_install")


def test_deployment_create_makes_logs_and_instructions(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "root").rglob("*")) == [
        "root/deployment-instructions", "root/dg-1", "root/dg-1/d-NEW", "root/dg-1/d-NEW/logs"]
    dep.create()  # again: nothing to do


def _olds(dep: Deployment, count: int) -> list[str]:
    group = os.path.dirname(dep.dir)
    made = []
    for i in range(count):
        path = os.path.join(group, f"d-OLD{i}")
        os.mkdir(path)
        os.utime(path, (1000 + i, 1000 + i))  # d-OLD0 is the oldest
        made.append(path)
    return made


def test_old_revisions_keep_retain_with_the_new_one(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    olds = _olds(dep, 7)
    # command_executor.rb#cleanup_old_archives: extra = others - retain + 1, oldest by mtime
    # 7 old + the new one, keep 5 in all: the 3 oldest go
    assert dep.old_revisions(5) == olds[:3]
    assert dep.old_revisions(8) == []
    assert dep.old_revisions(1) == olds


def test_old_revisions_never_the_last_successful_one(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    olds = _olds(dep, 4)
    write_marker(dep.last_successful, olds[0])
    assert dep.old_revisions(3) == olds[1:3]


def test_previous_successful_dir_reads_the_marker(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    assert dep.previous_successful_dir() is None  # no marker
    [old] = _olds(dep, 1)
    write_marker(dep.last_successful, old + "\n")
    assert dep.previous_successful_dir() == old
    write_marker(dep.last_successful, old + "-gone")
    assert dep.previous_successful_dir() is None


def test_previous_successful_dir_link_or_fifo_marker_is_none(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    [old] = _olds(dep, 1)
    real = tmp_path / "marker"
    real.write_text(old)
    os.symlink(real, dep.last_successful)
    assert dep.previous_successful_dir() is None
    os.unlink(dep.last_successful)
    os.mkfifo(dep.last_successful)
    assert dep.previous_successful_dir() is None  # and did not block


def test_write_marker_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "m"
    write_marker(str(path), "first and longer")
    write_marker(str(path), "second")
    assert (path.read_text(), os.listdir(tmp_path)) == ("second", ["m"])
