"""What hooks changed in the box's deployment root, copied into verify's own: as the box shows
it, never through a link, a special file as a FIFO."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agentkit.box import copyback
from agentkit.box.items import DIR, FILE, GONE, OTHER, SYMLINK, Change

BOX = "/opt/codedeploy-agent/deployment-root"


def _file(tmp_path: Path, text: str) -> int:
    source = tmp_path / "source"
    source.write_text(text)
    return os.open(source, os.O_RDONLY)


def test_copyback_file_dir_link_and_gone_land_as_the_box_shows_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "old").mkdir(parents=True)
    (root / "old" / "f").write_text("old\n")
    fd = _file(tmp_path, "new\n")
    try:
        assert copyback.apply(str(root), BOX, Change(f"{BOX}/d", DIR, 0o750), None) is None
        assert copyback.apply(str(root), BOX, Change(f"{BOX}/d/f", FILE, 0o400, mtime=1000.0,
                                                     size=4), fd) is None
    finally:
        os.close(fd)
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/l", SYMLINK, target="/etc"),
                          None) is None
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/old", GONE), None) is None
    assert (root / "d" / "f").read_text() == "new\n"
    # verify reads what it copied: its own read and write bits are added
    assert stat.S_IMODE((root / "d" / "f").stat().st_mode) == 0o600
    assert (root / "d" / "f").stat().st_mtime == 1000.0
    assert stat.S_IMODE((root / "d").stat().st_mode) == 0o750
    assert os.readlink(root / "l") == "/etc"
    assert not (root / "old").exists()


def test_copyback_never_follows_a_link_it_copied(tmp_path: Path) -> None:
    # a hook's link, copied back, then a change below its name (a later event's): refused,
    # nothing written where the link points
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/l", SYMLINK, target=str(outside)),
                          None) is None
    fd = _file(tmp_path, "x\n")
    try:
        why = copyback.apply(str(root), BOX, Change(f"{BOX}/l/f", FILE, 0o644, size=2), fd)
    finally:
        os.close(fd)
    assert why == f"{BOX}/l/f: Not a directory"
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/l/g", GONE), None) == \
        f"{BOX}/l/g: Not a directory"
    assert list(outside.iterdir()) == []


def test_copyback_special_file_is_a_fifo_and_opaque_dir_drops_the_rest(
        tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    for name in ("keep", "drop"):
        (root / "d" / name).write_text(name)
    (root / "scripts.log").write_text("log\n")
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/scripts.log", OTHER), None) is None
    assert stat.S_ISFIFO((root / "scripts.log").lstat().st_mode)
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/d", DIR, 0o755, names=["keep"]),
                          None) is None
    assert sorted(p.name for p in (root / "d").iterdir()) == ["keep"]
    # a file too big to be sent (its digest only) is removed, and said
    assert copyback.apply(str(root), BOX, Change(f"{BOX}/d/keep", FILE, 0o644, size=1 << 27,
                                                 sha256="0" * 64), None) == \
        f"{BOX}/d/keep: {1 << 27} bytes, not copied back"
    assert not (root / "d" / "keep").exists()
