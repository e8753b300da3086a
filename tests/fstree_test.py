"""fstree: removing and walking trees deeper than the recursion limit and PATH_MAX, never
through a link."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit import fstree


def _deep(top: Path, depth: int) -> None:
    """A chain of `depth` directories below top, each holding a file (made by descending with
    chdir: the full path is far past PATH_MAX)."""
    here = os.getcwd()
    os.makedirs(top)
    os.chdir(top)
    try:
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
            Path("f").write_text("x")
    finally:
        os.chdir(here)


def test_remove_tree_deeper_than_path_max_and_recursion_limit(tmp_path: Path) -> None:
    top = tmp_path / "deep"
    _deep(top, 3000)  # 3000 x "/d" > PATH_MAX's 4096 bytes; > the 1000 frames of recursion
    fstree.remove_tree(str(top))
    assert os.listdir(tmp_path) == []


def test_remove_tree_removes_links_and_never_follows_them(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "keep").write_text("precious")
    top = tmp_path / "release"
    (top / "a").mkdir(parents=True)
    (top / "a" / "to-shared").symlink_to(shared)
    (top / "link-file").symlink_to(shared / "keep")
    fstree.remove_tree(str(top))
    assert not top.exists()
    assert (shared / "keep").read_text() == "precious"


def test_remove_tree_given_a_link_removes_only_the_link(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(shared)
    fstree.remove_tree(str(link))
    assert not os.path.lexists(link)
    assert (shared / "sub").is_dir()


def test_remove_tree_wide_and_unwritable_directories(tmp_path: Path) -> None:
    top = tmp_path / "wide"
    for i in range(300):
        (top / f"d{i}" / "x").mkdir(parents=True)
        (top / f"d{i}" / "x" / "f").write_text("x")
    (top / "d7" / "x").chmod(0o500)
    (top / "d9").chmod(0o000)
    fstree.remove_tree(str(top))
    assert os.listdir(tmp_path) == []


def test_remove_tree_missing_path_is_nothing_to_do(tmp_path: Path) -> None:
    fstree.remove_tree(str(tmp_path / "absent"))
    assert os.listdir(tmp_path) == []


def test_walk_files_lists_files_and_links_not_directories(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("12345")
    (tmp_path / "a" / "l").symlink_to("/etc")
    found = {os.path.relpath(p, tmp_path): st.st_size if not os.path.islink(p) else "link"
             for p, st in fstree.walk_files(str(tmp_path))}
    assert found == {"a/b/f": 5, "a/l": "link"}
