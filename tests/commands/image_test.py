"""agentkit image unpack|list|remove: the cache of instance images, emptied by agentkit
even where its files belong to the caller's subordinate ids."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agentkit.cli import main

from ..image_fixture import make_image, make_tarball


def _tarball(tmp_path: Path, name: str, release: str) -> Path:
    img = make_image(tmp_path / name)
    (img / "etc" / "os-release").write_text(f"ID={release}\n")
    (img / "home" / "imageonly" / ".profile").write_text("umask 022\n")
    return make_tarball(img, tmp_path / f"{name}.tgz", owner=1234)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_image_unpack_list_remove_round_trip(
        tmp_path: Path, image_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(image_cache)
    one, two = _tarball(tmp_path, "one", "first"), _tarball(tmp_path, "two", "second")
    assert main(["image", "unpack", "--cache", cache, str(one)]) == 0
    assert capsys.readouterr().out == f"{cache}/{_digest(one)}\n"
    assert main(["image", "unpack", "--cache", cache, str(two)]) == 0
    capsys.readouterr()
    assert main(["image", "list", "--cache", cache]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sha256         unpacked             owners    source"
    assert [(line.split()[0], line.split()[3:]) for line in lines[1:]] == [
        (_digest(two)[:12], ["kept", str(two)]), (_digest(one)[:12], ["kept", str(one)])]
    assert main(["image", "remove", "--cache", cache, _digest(one)[:8]]) == 0
    assert capsys.readouterr().out == f"removed {_digest(one)[:12]} ({one})\n"
    assert not os.path.lexists(f"{cache}/{_digest(one)}")
    assert main(["image", "remove", "--cache", cache, "--all"]) == 0
    assert capsys.readouterr().out == f"removed {_digest(two)[:12]} ({two})\n"
    assert [n for n in os.listdir(cache) if os.path.isdir(f"{cache}/{n}")] == []
    assert main(["image", "list", "--cache", cache]) == 0
    assert capsys.readouterr().out == f"no unpacked images in {cache}\n"


def test_image_remove_all_takes_half_made_copies_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    half = tmp_path / "cache" / ".0123456789ab-killed" / "etc"
    half.mkdir(parents=True)
    half.chmod(0o555)
    assert main(["image", "remove", "--cache", str(tmp_path / "cache"), "--all"]) == 0
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == []


def test_image_remove_unknown_or_without_names_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(tmp_path / "cache")
    assert main(["image", "remove", "--cache", cache, "beef"]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: agentkit image remove beef: no unpacked image has a sha256 "
        f"starting so in {cache} (`agentkit image list` shows them).\n")
    assert main(["image", "remove", "--cache", cache]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: agentkit image remove: name the images (their sha256, as "
        "`agentkit image list` shows) or give --all, not both.\n")


def test_image_unpack_says_its_notes(
        tmp_path: Path, image_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_image(tmp_path / "img")
    os.mkfifo(img / "tmp" / "fifo")
    arc = make_tarball(img, tmp_path / "img.tgz")
    assert main(["image", "unpack", "--cache", str(image_cache), str(arc)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("note: the image's 1 device, fifo or unsafe member(s) were not "
                      "unpacked (the box has its own /dev)")


def test_image_remove_of_an_image_a_verify_uses_is_refused(
        tmp_path: Path, image_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentkit.image import cache as image

    arc = _tarball(tmp_path, "one", "first")
    root = image.prepare(str(arc), str(image_cache)).root
    with image.in_use(root):  # what verify holds while its box shows the image
        assert main(["image", "remove", "--cache", str(image_cache), "--all"]) == 1
        assert capsys.readouterr().err == (
            f"agentkit: error: {root} is in use by a verify that is running; remove it when "
            "that has finished.\n")
        assert (Path(root) / "etc" / "os-release").read_text() == "ID=first\n"
    assert main(["image", "remove", "--cache", str(image_cache), "--all"]) == 0
    assert not os.path.lexists(root)
