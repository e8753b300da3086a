"""chase: a configured path, following only links nobody less privileged can have put there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentkit.safefs import chase
from agentkit.safefs.dirfd import Tampered

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a link owned by "
                                   "another user, which only root can make")


def test_chase_follows_links_in_directories_only_we_may_write(tmp_path: Path,
                                                              kernel: str) -> None:
    (tmp_path / "releases/r1/public").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/r1")
    (tmp_path / "releases/r1/up").symlink_to("../../releases/r1/public")
    with chase.open_dir(f"{tmp_path}/current/public") as d:
        assert os.path.samestat(d.stat(), os.stat(tmp_path / "releases/r1/public"))
        assert d.path == f"{tmp_path}/current/public"
    with chase.open_dir(f"{tmp_path}/current/up") as d:  # `..` goes back the way it came
        assert os.path.samestat(d.stat(), os.stat(tmp_path / "releases/r1/public"))


def test_chase_refuses_a_link_in_a_directory_others_may_write(tmp_path: Path) -> None:
    (tmp_path / "share").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.chmod(tmp_path / "share", 0o777)
    (tmp_path / "share/media").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(Tampered) as exc:
        chase.open_dir(f"{tmp_path}/share/media")
    assert str(exc.value) == (
        f"{tmp_path}/share/media: a symlink (uid {os.getuid()}) in a directory others may "
        f"write (uid {os.getuid()}, mode 0777) stands where a directory was expected")


@requires_root
def test_chase_in_a_sticky_directory_follows_only_root_links(tmp_path: Path) -> None:
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (tmp_path / "target").mkdir()
    (sticky / "ours").symlink_to(tmp_path / "target")
    (sticky / "theirs").symlink_to(tmp_path / "target")
    os.lchown(sticky / "theirs", 65534, 65534)
    chase.open_dir(f"{sticky}/ours").close()
    with pytest.raises(Tampered):
        chase.open_dir(f"{sticky}/theirs")


def test_chase_a_file_on_the_way_and_a_loop(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(Tampered) as exc:
        chase.open_dir(f"{tmp_path}/file/below")
    assert str(exc.value) == (f"{tmp_path}/file: a regular file stands where a directory was "
                              "expected")
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(OSError) as exc2:
        chase.open_dir(f"{tmp_path}/loop")
    assert exc2.value.strerror == "Too many levels of symbolic links"


def test_chase_missing_components_are_made_when_asked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as exc:
        chase.open_dir(f"{tmp_path}/a/b")
    assert exc.value.filename == f"{tmp_path}/a"
    made = []

    def make(parent: object, name: str) -> None:
        made.append(name)
        parent.mkdir(name, 0o750)  # type: ignore[attr-defined]

    with chase.open_dir(f"{tmp_path}/a/b", make) as d:
        assert d.path == f"{tmp_path}/a/b"
    assert made == ["a", "b"]
    parent, name = chase.locate(f"{tmp_path}/a/b/file")
    with parent:
        assert (parent.path, name) == (f"{tmp_path}/a/b", "file")
