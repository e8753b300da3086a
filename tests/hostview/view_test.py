"""The copy-on-write view: reads fall through to the host, writes and deletes stay inside."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit.hostview.view import HostView


def test_sandbox_reads_host_and_writes_upper(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "a.txt").write_text("host")
    src = tmp_path / "src.txt"
    src.write_text("new")
    sb = HostView(str(tmp_path / "sb"))
    assert sb.exists(str(host / "a.txt"))
    sb.write_file(str(host / "a.txt"), str(src), mode=0o600, mtime=0, owner=(1, 2))
    assert (host / "a.txt").read_text() == "host"
    entry = sb.entry(str(host / "a.txt"))
    assert entry is not None and (entry.mode, entry.uid, entry.gid) == (0o600, 1, 2)
    assert [p for p, _ in sb.touched()] == [str(host / "a.txt")]


def test_sandbox_remove_host_file_is_a_whiteout(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    sb = HostView(str(tmp_path / "sb"))
    sb.remove(str(tmp_path / "keep.txt"))
    assert not sb.lexists(str(tmp_path / "keep.txt"))
    assert (tmp_path / "keep.txt").read_text() == "x"
    assert "keep.txt" not in sb.listdir(str(tmp_path))


def test_sandbox_rmdir_only_when_empty_in_the_view(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").write_text("x")
    sb = HostView(str(tmp_path / "sb"))
    assert sb.rmdir(str(d)) is False
    sb.remove(str(d / "f"))
    assert sb.rmdir(str(d)) is True
    assert d.is_dir() and (d / "f").exists()


def test_sandbox_resolves_links_through_the_view(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    sb = HostView(str(tmp_path / "sb"))
    assert sb.resolve(str(tmp_path / "link")) == str(tmp_path / "target")
    sb.remove(str(tmp_path / "target"))
    assert sb.resolve(str(tmp_path / "link")) is None  # dangles in the view
    assert sb.islink(str(tmp_path / "link"))


def test_sandbox_state_survives_reopen(tmp_path: Path) -> None:
    (tmp_path / "gone").write_text("x")
    sb = HostView(str(tmp_path / "sb"))
    sb.remove(str(tmp_path / "gone"))
    sb.mkdir(str(tmp_path / "made"))
    sb.save()
    again = HostView(str(tmp_path / "sb"))
    assert not again.lexists(str(tmp_path / "gone"))
    assert again.isdir(str(tmp_path / "made"))
    assert not os.path.exists(tmp_path / "made")


def test_sandbox_parent_dirs_stay_transparent(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o711)
    src = tmp_path / "s"
    src.write_text("x")
    sb = HostView(str(tmp_path / "sb"))
    sb.write_file(str(tmp_path / "new" / "f"), str(src), mode=0o644, mtime=0, owner=None)
    entry = sb.entry(str(tmp_path))
    assert entry is not None and entry.mode == 0o711 and entry.where == "host"


def test_sandbox_shared_files_are_recorded_then_copied_on_change(tmp_path: Path) -> None:
    src = tmp_path / "bundle-file"
    src.write_text("payload")
    os.chmod(src, 0o644)
    st = os.stat(src)
    sb = HostView(str(tmp_path / "sb"))
    target = str(tmp_path / "dest" / "f")
    sb.mkdir(str(tmp_path / "dest"))
    sb.write_file(target, str(src), mode=0o644, mtime=st.st_mtime, owner=(7, 8), share=True)
    assert not os.path.lexists(sb.up(target))  # recorded, not written
    assert sb.listdir(str(tmp_path / "dest")) == ["f"]
    entry = sb.entry(target)
    assert entry is not None and (entry.mode, entry.uid) == (0o644, 7)
    sb.chmod(target, 0o600)
    assert os.stat(src).st_mode & 0o777 == 0o644  # the bundle file is never changed
    assert os.stat(sb.up(target)).st_mode & 0o777 == 0o600
    assert (Path(sb.up(target))).read_text() == "payload"


def test_sandbox_walk_is_sorted_by_path_string(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for d in ("a", "a/x", "a-b", "a.c/d"):
        (root / d).mkdir(parents=True)
    for f in ("a/x/f", "a/y", "a0", "a-b/g", "a.c/d/h", "b"):
        (root / f).write_text(f)
    sb = HostView(str(tmp_path / "sb"))
    src = tmp_path / "s"
    src.write_text("new")
    sb.write_file(str(root / "a-a"), str(src), mode=0o644, mtime=0, owner=None)
    paths = [e.path for e in sb.walk(str(root))]
    assert paths == sorted(paths)
    assert paths[:4] == [str(root), str(root / "a"), str(root / "a-a"), str(root / "a-b")]
    assert len(paths) == 13


def test_sandbox_never_writes_through_a_link_it_holds(tmp_path: Path) -> None:
    # a link the deployment made, relative enough to climb out of the upper layer: writing
    # below it (through the layer's own path) is refused, and outside nothing changes
    import errno

    import pytest

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("precious")
    src = tmp_path / "src.txt"
    src.write_text("new")
    sb = HostView(str(tmp_path / "sb"))
    dest = tmp_path / "host" / "dest"
    dest.mkdir(parents=True)
    climb = "../" * (len(Path(sb.up(str(dest))).parts) - 1) + str(outside).lstrip("/")
    sb.symlink(climb, str(dest / "l"))
    assert os.path.realpath(sb.up(str(dest / "l"))) == str(outside)  # it does climb out
    with pytest.raises(OSError) as exc:
        sb.write_file(str(dest / "l" / "victim"), str(src), mode=0o644, mtime=0, owner=None)
    assert exc.value.errno == errno.ELOOP
    assert (outside / "victim").read_text() == "precious"
    assert os.listdir(outside) == ["victim"]


def test_sandbox_mkdir_new_over_a_transparent_parent_is_the_usual_mkdir(tmp_path: Path) -> None:
    # `new` only tries mkdir first: a directory already in the upper layer (the parent of a
    # file written earlier) takes the new mode and keeps its content, as without `new`
    src = tmp_path / "s"
    src.write_text("x")
    results = []
    for new in (True, False):
        host = tmp_path / f"host-{new}" / "d"
        host.mkdir(parents=True)
        host.chmod(0o700)
        sb = HostView(str(tmp_path / f"sb-{new}"))
        sb.write_file(str(host / "f"), str(src), mode=0o644, mtime=0, owner=None)
        sb.mkdir(str(host), 0o755, new=new)
        entry = sb.entry(str(host))
        assert entry is not None
        results.append((entry.type, entry.mode, entry.where, sb.listdir(str(host))))
    assert results[0] == results[1] == ("dir", 0o755, "upper", ["f"])
