"""image.unpack: an instance image's tarball unpacked without ever writing through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agentkit.errors import BadInput
from agentkit.image.unpack import Unpacked, unpack

from ..archives import Spec, tar

ROOT = os.geteuid() == 0


def _unpack(tmp_path: Path, members: list[Spec], uid: int = 0) -> tuple[Path, Unpacked]:
    root = tmp_path / "root"
    root.mkdir()
    archive = tar(tmp_path / "image.tar", members, gz=False, uid=uid)
    return root, unpack(str(archive), str(root))


def _tree(root: Path) -> dict[str, str]:
    """Every path below root: a file's text, a link's target, "dir" for a directory."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            out[rel] = (f"-> {os.readlink(full)}" if full.is_symlink() else
                        "dir" if full.is_dir() else full.read_text())
    return out


def test_unpack_plain_members_land_below_root(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [
        ("etc/", "dir", "", 0o755), ("etc/hostname", "file", "box\n", 0o644),
        ("./usr/bin/tool", "file", "#!/bin/sh\n", 0o755), ("/abs/x", "file", "x", 0o600),
        ("bin", "symlink", "usr/bin", 0o777)])
    assert done == Unpacked(0, 0, ROOT)
    assert _tree(root) == {"etc": "dir", "etc/hostname": "box\n", "usr": "dir",
                           "usr/bin": "dir", "usr/bin/tool": "#!/bin/sh\n", "abs": "dir",
                           "abs/x": "x", "bin": "-> usr/bin"}
    assert stat.S_IMODE((root / "usr/bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "abs/x").stat().st_mode) == 0o600


def test_unpack_never_writes_through_a_link_member(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("host's\n")
    root, done = _unpack(tmp_path, [
        ("etc", "symlink", str(outside), 0o777), ("etc/passwd", "file", "evil\n", 0o644),
        ("etc/new", "file", "evil\n", 0o644)])
    assert done == Unpacked(2, 0, ROOT)
    assert _tree(outside) == {"passwd": "host's\n"}
    assert _tree(root) == {"etc": f"-> {outside}"}


def test_unpack_members_leaving_the_image_are_skipped(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [("../escape", "file", "x", 0o644),
                                    ("a/../../b", "file", "x", 0o644),
                                    ("ok", "file", "ok", 0o644)])
    assert done == Unpacked(2, 0, ROOT)
    assert _tree(root) == {"ok": "ok"}
    assert not (tmp_path / "escape").exists()


def test_unpack_devices_and_fifos_are_skipped(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [("dev/null", "chardev", "", 0o666),
                                    ("run/fifo", "fifo", "", 0o644)])
    assert done == Unpacked(2, 0, ROOT)
    assert _tree(root) == {"dev": "dir", "run": "dir"}


def test_unpack_hard_link_to_a_file_of_the_image_shares_it(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [("a/f", "file", "data", 0o644),
                                    ("b/g", "hardlink", "a/f", 0o644)])
    assert done == Unpacked(0, 0, ROOT)
    assert (root / "a/f").stat().st_ino == (root / "b/g").stat().st_ino


def test_unpack_hard_link_through_a_link_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host's\n")
    root, done = _unpack(tmp_path, [("l", "symlink", str(outside), 0o777),
                                    ("g", "hardlink", "l/secret", 0o644),
                                    ("h", "hardlink", "missing", 0o644)])
    assert done == Unpacked(2, 0, ROOT)
    assert _tree(root) == {"l": f"-> {outside}"}


def test_unpack_later_member_wins(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [("p", "file", "first", 0o644),
                                    ("p/", "dir", "", 0o755), ("p/x", "file", "x", 0o644),
                                    ("q/y", "file", "y", 0o644), ("q", "file", "file", 0o644)])
    assert done == Unpacked(0, 0, ROOT)
    assert _tree(root) == {"p": "dir", "p/x": "x", "q": "file"}


def test_unpack_directory_modes_are_set_last(tmp_path: Path) -> None:
    root, _ = _unpack(tmp_path, [("ro/", "dir", "", 0o555), ("ro/f", "file", "f", 0o644)])
    assert stat.S_IMODE((root / "ro").stat().st_mode) == 0o555
    assert (root / "ro/f").read_text() == "f"


def test_unpack_directory_replaced_by_a_link_passes_no_mode(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    root, _ = _unpack(tmp_path, [("d/", "dir", "", 0o700),
                                 ("d", "symlink", str(outside), 0o777)])
    assert _tree(root) == {"d": f"-> {outside}"}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755


@pytest.mark.skipif(not ROOT, reason="keeping a member's owner needs root (or a mapped "
                                     "namespace, which cache_test covers)")
def test_unpack_as_root_keeps_owners(tmp_path: Path) -> None:
    root, done = _unpack(tmp_path, [("d/", "dir", "", 0o755), ("d/f", "file", "f", 0o644),
                                    ("d/l", "symlink", "f", 0o777)], uid=1234)
    assert done == Unpacked(0, 0, True)
    assert [os.lstat(root / p).st_uid for p in ("d", "d/f", "d/l")] == [1234] * 3


def test_unpack_not_a_tar_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "image.tar"
    bad.write_bytes(b"not a tarball at all" * 100)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(BadInput) as exc:
        unpack(str(bad), str(root))
    # tarfile's own words in the parentheses differ between Python versions
    text = str(exc.value)
    assert text.startswith(f"--image {bad}: not a readable tar or tar.gz (")
    assert text.endswith("); give a directory or what `docker export` writes.")
    assert "\n" not in text.replace("\n- method", " method")
