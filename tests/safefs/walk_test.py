"""walk: removing and copying trees through descriptors, at any depth, never through a link."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit.safefs import chase, walk


def _shape(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in sorted(root.rglob("*")):
        s = os.lstat(p)
        body = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
        out[str(p.relative_to(root))] = (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode),
                                         s.st_uid, body)
    return out


NAMES = st.sampled_from(["a", "b", "c", ".hidden", "x y", "é"])
ENTRIES = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=4),
                             st.sampled_from(["file", "dir", "link-out", "link-in", "fifo"]),
                             st.sampled_from([0o600, 0o644, 0o755, 0o700, 0o4755])),
                   max_size=25)


def _build(root: Path, entries: list[tuple[list[str], str, int]], outside: Path) -> None:
    root.mkdir()
    for parts, kind, mode in entries:
        path = root.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(path):
                continue
            if kind == "file":
                path.write_bytes(os.urandom(mode % 97))
                os.chmod(path, mode)
            elif kind == "dir":
                path.mkdir()
                os.chmod(path, mode & 0o777 | 0o700)
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                path.symlink_to(outside if kind == "link-out" else parts[0])
        except OSError:  # a name through a link made before, or through a file
            continue


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES)
def test_walk_copy_tree_is_whole_and_remove_tree_leaves_nothing(
        tmp_path_factory: pytest.TempPathFactory, entries: list[Any]) -> None:
    base = tmp_path_factory.mktemp("walk")
    outside = base / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep me")
    _build(base / "src", entries, outside)
    with chase.open_dir(str(base / "src")) as src, chase.open_dir(str(base)) as top:
        assert walk.copy_tree(src, top, "copy") == 0
    assert _shape(base / "copy") == _shape(base / "src")
    assert stat.S_IMODE(os.stat(base / "copy").st_mode) == stat.S_IMODE(
        os.stat(base / "src").st_mode)
    with chase.open_dir(str(base)) as top:
        assert walk.remove_tree(top, "copy").items == []
        assert walk.remove_tree(top, "src").items == []
    assert sorted(os.listdir(base)) == ["outside"]
    assert (outside / "keep").read_text() == "keep me"


def test_walk_remove_tree_deeper_than_path_max(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("deep", dir_fd=fd)
    for _ in range(3000):  # 6000 bytes of path: past PATH_MAX, past the recursion limit
        nxt = os.open("deep", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
        os.mkdir("deep", dir_fd=fd)
    os.close(fd)
    with chase.open_dir(str(tmp_path)) as top:
        assert walk.remove_tree(top, "deep").items == []
    assert not deep.exists()


def test_walk_remove_tree_does_not_enter_a_mount(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: mounting a tmpfs inside the tree")
    (tmp_path / "tree/mnt").mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "tree/mnt")],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.strip()}")
    try:
        (tmp_path / "tree/mnt/on-the-share").write_text("x")
        with chase.open_dir(str(tmp_path)) as top:
            left = walk.remove_tree(top, "tree")
        assert left.items[0] == (f"{tmp_path}/tree/mnt", "another file system (a mount "
                                 "point): not entered")
        assert (tmp_path / "tree/mnt/on-the-share").read_text() == "x"
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "tree/mnt")], check=False)


def test_walk_made_refuses_a_directory_swapped_in_after_mkdir(tmp_path: Path) -> None:
    from agentkit.safefs.dirfd import Tampered

    (tmp_path / "other").mkdir()
    (tmp_path / "other/secret").write_text("x")
    with chase.open_dir(str(tmp_path)) as top:
        top.mkdir("new")
        os.rmdir(tmp_path / "new")
        os.rename(tmp_path / "other", tmp_path / "new")  # the swap
        with pytest.raises(Tampered):
            walk.made(top, "new")
        top.mkdir("fresh")
        with walk.made(top, "fresh") as fresh:
            assert fresh.path == f"{tmp_path}/fresh"
