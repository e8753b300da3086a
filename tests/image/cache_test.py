"""agentkit.image.cache: an instance image as a directory, or a tarball unpacked once into a
cache without ever writing through one of its links."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from agentkit import fstree
from agentkit.box import ids
from agentkit.errors import BadInput
from agentkit.image import cache as image

from ..image_fixture import make_image, make_tarball


def _host_ids(inside: int) -> tuple[int, int]:
    """The host uid and gid the box's `inside` is, for this caller: what unpacking gives a
    file the image says `inside` owns."""
    idmap = ids.choose()
    if idmap.kind == "shifted":
        return inside, inside  # real root keeps the image's ids; the box maps them back

    def outside(lines: tuple[tuple[int, int, int], ...]) -> int:
        return next(out + inside - start for start, out, count in lines
                    if start <= inside < start + count)
    return outside(idmap.uids), outside(idmap.gids)


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


def test_image_tarball_is_unpacked_once_into_the_cache(
        tmp_path: Path, image_cache: Path) -> None:
    cache = image_cache
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz", owner=1234)
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
    assert sorted(os.listdir(cache)) == [".lock", os.path.basename(first.root)]  # no half-made
    home = (Path(first.root) / "home" / "imageonly").stat()
    if ids.choose().kind != "single":
        assert first.notes == ()
        assert (home.st_uid, home.st_gid) == _host_ids(1234)
    else:
        assert home.st_uid == os.getuid()
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


def test_image_tarball_mode_never_reaches_through_a_link_that_replaced_a_directory(
        tmp_path: Path, image_cache: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "cred").write_text("secret")
    victim.chmod(0o700)
    arc = _tar(tmp_path / "evil.tar", [
        (_info("etc", tarfile.DIRTYPE, mode=0o755), b""),
        (_info("x", tarfile.DIRTYPE, mode=0o777), b""),
        (_info("x", tarfile.SYMTYPE, link=str(victim)), b""),  # the mode of x/ is set last
        (_info("etc/leak", tarfile.LNKTYPE, link="x/cred"), b"")])  # through the link
    got = image.prepare(str(arc), str(image_cache))
    assert victim.stat().st_mode & 0o777 == 0o700
    assert (victim / "cred").stat().st_nlink == 1
    assert not (Path(got.root) / "etc" / "leak").exists()
    assert got.notes == ("the image's 1 device, fifo or unsafe member(s) were not unpacked "
                         "(the box has its own /dev)",)


def test_image_tarball_keeps_setuid_and_the_last_mode_of_a_directory(
        tmp_path: Path, image_cache: Path) -> None:
    su = _info("usr/bin/su", mode=0o4755)
    arc = _tar(tmp_path / "modes.tar", [
        (_info("usr", tarfile.DIRTYPE, mode=0o755), b""),
        (_info("usr/bin", tarfile.DIRTYPE, mode=0o700), b""),
        (_info("usr/bin", tarfile.DIRTYPE, mode=0o755), b""),  # a later member wins
        (su, b"#!/bin/sh\n")])
    root = Path(image.prepare(str(arc), str(image_cache)).root)
    assert (root / "usr" / "bin" / "su").stat().st_mode & 0o7777 == 0o4755  # chown, then chmod
    assert (root / "usr" / "bin").stat().st_mode & 0o7777 == 0o755


def test_image_tarball_that_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tarball at all")
    with pytest.raises(BadInput) as err:
        image.prepare(str(bad), str(tmp_path / "cache"))
    assert str(err.value).startswith(f"--image {bad}: not a readable tar or tar.gz (")
    assert os.listdir(tmp_path / "cache") == [".lock"]  # no half-made entry


def _needs_range() -> None:
    if ids.choose().kind != "range":
        pytest.skip("needs a plain user with a subordinate id range (the CI's plain run)")


def test_image_tarball_owners_beyond_the_subordinate_range_stay_root_s(
        tmp_path: Path, image_cache: Path) -> None:
    cache = image_cache
    _needs_range()
    far = _info("usr/far")
    far.uid = far.gid = ids.choose().top + 1
    arc = _tar(tmp_path / "far.tar", [(_info("usr", tarfile.DIRTYPE, mode=0o755), b""),
                                      (far, b"x")])
    got = image.prepare(str(arc), str(cache))
    assert (Path(got.root) / "usr" / "far").stat().st_uid == os.getuid()
    assert got.notes == ("the image's 1 file(s) owned by ids beyond your subordinate range "
                         "(/etc/subuid) are root's in the box",)


def test_image_remove_takes_the_files_of_other_ids_too(
        tmp_path: Path, image_cache: Path) -> None:
    cache = image_cache
    img = make_image(tmp_path / "img")
    (img / "home" / "imageonly" / ".profile").write_text("umask 022\n")
    arc = make_tarball(img, tmp_path / "img.tgz", owner=1234)
    root = image.prepare(str(arc), str(cache)).root
    (Path(root) / "proc").mkdir()
    (Path(root) / "proc").chmod(0o555)  # as docker export has it
    [entry] = image.entries(str(cache))
    assert (entry.root, entry.source) == (root, str(arc))
    if ids.choose().kind == "range":  # what `rm -rf` of the cache would leave
        fstree.remove_tree(root)
        assert (Path(root) / "home" / "imageonly" / ".profile").is_file()
    image.remove(root)
    assert not os.path.lexists(root)
    assert image.entries(str(cache)) == []


def test_image_cache_made_another_way_is_unpacked_again(
        tmp_path: Path, image_cache: Path) -> None:
    cache = image_cache
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz")
    root = Path(image.prepare(str(arc), str(cache)).root)
    marker = root / image.COMPLETE
    marker.write_text(marker.read_text().replace(image.owner_scheme(ids.choose()), "other"))
    (root / "stale").write_text("from the other unpacking")
    assert image.prepare(str(arc), str(cache)).root == str(root)
    assert not (root / "stale").exists()
    assert image.entries(str(cache))[0].owners == image.owner_scheme(ids.choose())


def test_image_tarball_where_no_namespace_is_mapped_is_the_caller_s_own(
        tmp_path: Path, image_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a range newuidmap refuses (not in /etc/subuid), as a container's seccomp refuses
    # unshare: the image is still unpacked, as the caller's own files, and says why
    if os.geteuid() == 0:
        pytest.skip("a plain user's case: root's map is never a subordinate range")
    refused = ids.IdMap("range", ((0, os.getuid(), 1), (1, 7, 10)),
                        ((0, os.getgid(), 1), (1, 7, 10)))
    monkeypatch.setattr(ids, "choose", lambda: refused)
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz", owner=1234)
    got = image.prepare(str(arc), str(image_cache))
    assert (Path(got.root) / "home" / "imageonly").stat().st_uid == os.getuid()
    assert got.notes == (
        "the image was unpacked by a user who is not root: its files are that user's, so the "
        "box shows them all as root's",
        "owners could not be kept: the user namespace got no id map: newuidmap: uid range "
        "[1-11) -> [7-17) not allowed; check /etc/subuid and /etc/subgid and that "
        "newuidmap/newgidmap are setuid root (apt-get install uidmap).")


def test_image_cache_leftovers_of_a_killed_unpacking_are_removed(
        tmp_path: Path, image_cache: Path) -> None:
    cache = image_cache
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz")
    digest = hashlib.sha256(arc.read_bytes()).hexdigest()
    half = cache / f".{digest[:12]}-killed"
    (half / "etc").mkdir(parents=True)
    (half / "etc").chmod(0o555)
    root = image.prepare(str(arc), str(cache)).root
    assert sorted(os.listdir(cache)) == [".lock", os.path.basename(root)]
