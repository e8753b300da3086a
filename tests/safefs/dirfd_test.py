"""Dir: every *at() call refuses what is not what was expected, and never follows a link."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from agentkit.safefs import chase
from agentkit.safefs.dirfd import Dir, Tampered


def _dir(path: Path) -> Dir:
    return chase.open_dir(str(path))


def test_dirfd_subdir_refuses_a_symlink(tmp_path: Path, kernel: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with _dir(tmp_path) as d:
        with pytest.raises(Tampered) as exc:
            d.subdir("link")
        assert str(exc.value) == (f"{tmp_path}/link: a symlink stands where a directory was "
                                  "expected")
        with pytest.raises(Tampered) as exc:
            d.beneath("link/x")
        assert exc.value.path == f"{tmp_path}/link"


def test_dirfd_subdir_refuses_another_directory_than_the_one_listed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with _dir(tmp_path) as d:
        listed = d.lstat("a")
        assert listed is not None
        os.rename(tmp_path / "a", tmp_path / "b")
        (tmp_path / "a").mkdir()  # swapped between listing and opening
        with pytest.raises(Tampered) as exc:
            d.subdir("a", listed)
        assert str(exc.value) == (f"{tmp_path}/a: another directory stands where the one "
                                  "listed was expected")


def test_dirfd_open_file_refuses_fifo_link_and_directory_without_blocking(
        tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "target").write_text("secret")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "dir").mkdir()
    done: list[str] = []

    def attempt() -> None:
        with _dir(tmp_path) as d:
            for name, found in (("fifo", "a FIFO"), ("link", "a symlink"),
                                ("dir", "a directory")):
                with pytest.raises(Tampered) as exc:
                    d.open_file(name)
                assert str(exc.value) == (f"{tmp_path}/{name}: {found} stands where a "
                                          "regular file was expected")
                done.append(name)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert done == ["fifo", "link", "dir"]  # a FIFO never blocks the opener


def test_dirfd_create_never_makes_the_target_of_a_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "planted").symlink_to(tmp_path / "elsewhere")
    with _dir(tmp_path) as d, pytest.raises(FileExistsError) as exc:
        d.create("planted", 0o644)
    assert exc.value.filename == f"{tmp_path}/planted"
    assert not os.path.lexists(tmp_path / "elsewhere")


def test_dirfd_write_atomic_replaces_a_planted_link_never_writes_through(
        tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("root's\n")
    (tmp_path / "health.html").symlink_to(tmp_path / "secret")
    with _dir(tmp_path) as d:
        d.write_atomic("health.html", b"OK\n", 0o644)
    assert (tmp_path / "secret").read_text() == "root's\n"
    assert not (tmp_path / "health.html").is_symlink()
    assert (tmp_path / "health.html").read_text() == "OK\n"
    assert sorted(os.listdir(tmp_path)) == ["health.html", "secret"]


def test_dirfd_set_attrs_refuses_an_entry_swapped_for_a_hard_link(tmp_path: Path,
                                                                   kernel: str) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree/f").write_text("mine")
    (tmp_path / "shadow").write_text("root's")
    os.chmod(tmp_path / "shadow", 0o600)
    with _dir(tmp_path / "tree") as d:
        listed = d.lstat("f")
        assert listed is not None
        os.unlink(tmp_path / "tree/f")
        os.link(tmp_path / "shadow", tmp_path / "tree/f")  # the swap
        with pytest.raises(Tampered):
            d.set_attrs("f", listed, mode=0o644)
    assert stat.S_IMODE(os.stat(tmp_path / "shadow").st_mode) == 0o600


def test_dirfd_set_attrs_changes_the_entry_listed(tmp_path: Path, kernel: str) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to("f")
    os.chmod(tmp_path / "f", 0o600)
    with _dir(tmp_path) as d:
        for name, mode in (("f", 0o640), ("d", 0o750), ("l", 0o777)):
            st = d.lstat(name)
            assert st is not None
            d.set_attrs(name, st, os.getuid(), os.getgid(), mode)
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o750


def test_dirfd_beneath_refuses_dotdot_and_links(tmp_path: Path, kernel: str) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/up").symlink_to("..")
    with _dir(tmp_path) as d:
        with d.beneath("a/b") as below:
            assert below.path == f"{tmp_path}/a/b"
        with pytest.raises(ValueError):
            d.beneath("a/../a")
        with pytest.raises(Tampered):
            d.beneath("a/up/a")


def test_dirfd_errors_name_the_whole_path(tmp_path: Path) -> None:
    with _dir(tmp_path) as d:
        with pytest.raises(FileNotFoundError) as exc:
            d.rename("missing", d, "other")
        assert exc.value.filename == f"{tmp_path}/missing"
        with pytest.raises(OSError) as exc2:
            d.rmdir("missing")
        assert (exc2.value.errno, exc2.value.filename) == (errno.ENOENT, f"{tmp_path}/missing")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "nul\0"])
def test_dirfd_refuses_names_that_are_not_one_component(tmp_path: Path, name: str) -> None:
    with _dir(tmp_path) as d, pytest.raises(ValueError):
        d.unlink(name)


def test_dirfd_open_file_for_writing_refuses_a_hard_linked_file(tmp_path: Path) -> None:
    (tmp_path / "shadow").write_text("root's\n")
    os.link(tmp_path / "shadow", tmp_path / "hooks.log")  # planted at the log's name
    with _dir(tmp_path) as d:
        with pytest.raises(Tampered) as exc:
            d.open_file("hooks.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        assert str(exc.value) == (f"{tmp_path}/hooks.log: a file with another name elsewhere "
                                  "(a hard link) stands where a file of its own was expected")
        os.close(d.open_file("hooks.log"))  # reading it is harmless
    assert (tmp_path / "shadow").read_text() == "root's\n"
