"""agentkit.agent.image: an instance image as a directory, or a tarball unpacked once into a
cache without ever writing through one of its links."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from agentkit.agent import image
from agentkit.errors import BadInput

from ..conftest import requires_root
from ..image_fixture import make_image, make_tarball


def test_image_directory_is_used_as_it_is(tmp_path: Path) -> None:
    root = make_image(tmp_path / "img")
    assert image.prepare(str(root)) == image.Image(str(root), ())


def test_image_without_etc_or_usr_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notroot").mkdir()
    with pytest.raises(BadInput) as err:
        image.prepare(str(tmp_path / "notroot"))
    assert str(err.value) == (
        f"--image {tmp_path}/notroot: it holds no etc/ or usr/, so it is not a root file "
        "system; give the directory `docker export` (or the AMI) has at /.")


def test_image_tarball_is_unpacked_once_into_the_cache(tmp_path: Path) -> None:
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz", owner=1234)
    cache = tmp_path / "cache"
    first = image.prepare(str(arc), str(cache))
    assert os.path.dirname(first.root) == str(cache)
    assert (Path(first.root) / "etc" / "os-release").read_text().startswith("ID=agentkit-test")
    assert (Path(first.root) / "srv" / "app" / "index.html").read_text() == "from the image"
    if os.path.islink("/bin"):  # a merged /usr: the image's own link is kept as a link
        assert os.readlink(Path(first.root) / "bin") == os.readlink("/bin")
    marker = Path(first.root) / image.COMPLETE
    stamp = marker.stat().st_mtime_ns
    again = image.prepare(str(arc), str(cache))
    assert again == first
    assert marker.stat().st_mtime_ns == stamp  # not unpacked again
    assert os.listdir(cache) == [os.path.basename(first.root)]  # no half-made copy left
    if os.geteuid() == 0:
        assert first.notes == ()
        assert (Path(first.root) / "home" / "imageonly").stat().st_uid == 1234
    else:
        assert first.notes == (
            "the image was unpacked by a user who is not root: its files are that user's, "
            "so the box shows them all as root's",)


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
          ) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


def test_image_tarball_never_writes_through_its_own_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    arc = _tar(tmp_path / "evil.tar", [
        (_info("usr", tarfile.DIRTYPE, mode=0o755), b""),
        (_info("etc", tarfile.SYMTYPE, link=str(outside)), b""),
        (_info("etc/passwd"), b"root:x:0:0::/:/bin/sh\n"),
        (_info("../escape"), b"x"),
        (_info("usr/../../escape2"), b"x"),
        (_info("dev/null", tarfile.CHRTYPE), b""),
        (_info("usr/hard", tarfile.LNKTYPE, link="../../etc/shadow"), b"")])
    got = image.prepare(str(arc), str(tmp_path / "cache"))
    assert os.listdir(outside) == []
    assert not (tmp_path / "escape").exists() and not (tmp_path / "escape2").exists()
    assert os.readlink(Path(got.root) / "etc") == str(outside)
    assert not (Path(got.root) / "usr" / "hard").exists()
    assert got.notes[0] == ("the image's 5 device, fifo or unsafe member(s) were not unpacked "
                            "(the box has its own /dev)")


def test_image_tarball_that_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tarball at all")
    with pytest.raises(BadInput) as err:
        image.prepare(str(bad), str(tmp_path / "cache"))
    assert str(err.value).startswith(f"--image {bad}: not a readable tar or tar.gz (")
    assert os.listdir(tmp_path / "cache") == []


@requires_root
def test_image_tarball_owners_are_kept_for_root(tmp_path: Path) -> None:
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz", owner=1234)
    got = image.prepare(str(arc), str(tmp_path / "cache"))
    st = (Path(got.root) / "home" / "imageonly").stat()
    assert (st.st_uid, st.st_gid) == (1234, 1234)
