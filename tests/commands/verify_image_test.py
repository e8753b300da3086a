"""verify --image: hooks run over the instance's root file system and Install is judged
against it, not against this machine's /."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit.box import ids
from agentkit.image import cache as images

from ..archives import script, tar
from ..boxes import determined, needs_box
from ..image_fixture import image_with_unit, make_image, make_tarball
from .verify_fidelity_test import stdout_of, verify

LOOK = script("cat /etc/os-release\nls /opt\nls /home\n")


def _bundle(tmp_path: Path, dest: str, name: str = "a.tgz") -> Path:
    hooks = "  AfterInstall:\n    - location: look.sh\n"
    return tar(tmp_path / name, [
        ("appspec.yml", "file", f"version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                                f"    destination: {dest}\nhooks:\n{hooks}", 0o644),
        ("app/index.html", "file", "<h1>new</h1>", 0o644),
        ("look.sh", "file", LOOK, 0o755)])


def _needs_box(out: dict[str, object]) -> None:
    determined(out)


@needs_box
def test_verify_image_hooks_see_the_image_not_this_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_image(tmp_path / "img")
    code, out = verify(capsys, "--image", str(img), str(_bundle(tmp_path, "/var/www/app")))
    _needs_box(out)
    assert code == 0, out["error"]
    assert stdout_of(out, "AfterInstall") == [
        "ID=agentkit-test", 'PRETTY_NAME="agentkit test image"', "codedeploy-agent", "from-image",
        "imageonly"]
    assert out["modelled"][-1] == (
        f"the instance's file system: the image {img} (its users, packages and units)")
    # Install's changes are against the image: /var exists there, /var/www does not
    assert [(c["path"], c["change"]) for c in out["changes"]][:2] == [
        ("/var/www", "created"), ("/var/www/app", "created")]
    assert not Path("/var/www/app/index.html").exists() or \
        Path("/var/www/app/index.html").read_text() != "<h1>new</h1>"


def test_verify_image_install_meets_the_image_s_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /srv/app/index.html is in the image only: DISALLOW fails there, not on this machine
    img = make_image(tmp_path / "img")
    code, out = verify(capsys, "--hooks", "skip", "--image", str(img),
                       str(_bundle(tmp_path, "/srv/app")))
    assert code == 1
    assert out["failed_event"] == "Install"
    assert out["error"]["message"] == (
        "The deployment failed because a specified file already exists at this location: "
        "/srv/app/index.html")
    code, out = verify(capsys, "--hooks", "skip", str(_bundle(tmp_path, str(tmp_path / "srv"),
                                                               "b.tgz")))
    assert code == 0  # the same bundle, on this machine's own /, has nothing in its way


@needs_box
def test_verify_image_tarball_gives_the_same_result(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    arc = make_tarball(make_image(tmp_path / "img"), tmp_path / "img.tgz")
    code, out = verify(capsys, "--image", str(arc), str(_bundle(tmp_path, "/var/www/app")))
    _needs_box(out)
    assert code == 0, out["error"]
    assert stdout_of(out, "AfterInstall")[:2] == [
        "ID=agentkit-test", 'PRETTY_NAME="agentkit test image"']
    assert [p.name for p in (tmp_path / "cache" / "agentkit" / "images").iterdir()
            if not p.name.startswith(".")] == [images.entries(
                str(tmp_path / "cache" / "agentkit" / "images"))[0].digest]


@needs_box
def test_verify_image_tarball_keeps_the_image_s_owners_in_the_box(
        tmp_path: Path, image_cache: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # /home/imageonly is uid 1234's in the tarball: a unit of the image running as that user
    # writes there, as on the instance (unpacked by a plain user too, through its subuids)
    if ids.choose().kind == "single":
        pytest.skip("a user with no subordinate id range has no ids to give the image's files")
    img = image_with_unit(
        tmp_path / "img", "/etc/systemd/system/own.service",
        "[Service]\nType=oneshot\nUser=imageonly\nExecStart=/bin/sh -c 'ls -ldn "
        "/home/imageonly > /tmp/own; echo mine > /home/imageonly/written && cat "
        "/home/imageonly/written >> /tmp/own'\n")
    arc = make_tarball(img, tmp_path / "img.tgz", owner=1234)
    bundle = tar(tmp_path / "own.tgz", [
        ("appspec.yml", "file", "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n"
                                "    - location: start.sh\n", 0o644),
        ("start.sh", "file", script("systemctl start own\ncat /tmp/own\n"), 0o755)])
    monkeypatch.setenv("XDG_CACHE_HOME", str(image_cache.parent.parent))
    code, out = verify(capsys, "--image", str(arc), str(bundle))
    _needs_box(out)
    assert code == 0, out["error"]
    listing, written = stdout_of(out, "ApplicationStart")
    assert (listing.split()[2:4], written) == (["1234", "1234"], "mine")


@needs_box
def test_verify_image_s_own_agentkit_is_the_one_hooks_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_image(tmp_path / "img")
    own = img / "usr" / "local" / "bin" / "agentkit"
    own.parent.mkdir(parents=True)
    own.write_text('#!/bin/sh\necho "the image agentkit: $*"\n')
    own.chmod(0o755)
    bundle = tar(tmp_path / "call.tgz", [
        ("appspec.yml", "file", "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
                                "    - location: call.sh\n", 0o644),
        ("call.sh", "file", script("agentkit --version\n"), 0o755)])
    code, out = verify(capsys, "--image", str(img), str(bundle))
    _needs_box(out)
    assert code == 0, out["error"]
    assert stdout_of(out, "AfterInstall") == ["the image agentkit: --version"]
    assert not any("agentkit" in n and "image" in n for n in out["notes"])


def test_verify_image_bundle_link_to_an_instance_path_is_the_image_s(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `media -> /srv/agentkit-share`: the instance's directory, which the agent copies whole
    # (installer.rb follows the link); it is the image's, and this machine has none
    share = "/srv/agentkit-share"
    assert not Path(share).exists()
    img = make_image(tmp_path / "img")
    (img / share.lstrip("/")).mkdir(parents=True)
    for i in range(3):
        (img / share.lstrip("/") / f"{i}.jpg").write_bytes(b"x" * 1000)
    spec = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /var/www/app\n"
    arc = tar(tmp_path / "link.tgz", [("appspec.yml", "file", spec, 0o644),
                                      ("media", "symlink", share, 0o777)])
    code, out = verify(capsys, "--hooks", "skip", "--image", str(img), str(arc))
    assert code == 1
    assert [f["message"] for f in out["findings"] if f["code"] == "AK510"] == [
        f"the agent copies everything under {share} (a linked directory outside the bundle) "
        "onto the instance, whatever it holds there; the tree shows the image's copy: 3 "
        "file(s), 0.0 MB"]
    assert sorted(n["path"] for n in out["tree"] if n["path"].endswith(".jpg")) == [
        f"/var/www/app/media/{i}.jpg" for i in range(3)]
    # on this machine's own / the link dangles: the agent installs it as a link
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert [f["code"] for f in out["findings"] if f["code"] == "AK510"] == []
    assert not [n for n in out["tree"] if n["path"].endswith(".jpg")]


def test_verify_image_missing_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentkit.cli import main

    assert main(["verify", "--image", str(tmp_path / "nope"),
                 str(_bundle(tmp_path, "/srv/app"))]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: --image {tmp_path}/nope: no such directory or file; give the "
        "instance's root file system as a directory or a tar/tar.gz of one (docker export).")


def test_verify_image_named_by_the_projects_agentkit_yml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    img = make_image(tmp_path / "images" / "al2023")
    project = tmp_path / "project"
    project.mkdir()
    (project / "agentkit.yml").write_text("version: 1\nverify:\n  image: ../images/al2023\n")
    monkeypatch.chdir(project)
    arc = _bundle(tmp_path, "/srv/app")
    code, out = verify(capsys, "--hooks", "skip", str(arc))
    assert (code, out["failed_event"]) == (1, "Install")  # the image's /srv/app/index.html
    assert out["modelled"][-1] == (
        f"the instance's file system: the image {img} (its users, packages and units)")
    assert (f"the image is the one agentkit.yml names (verify > image: {img})"
            in out["notes"])
    # --image wins over the file; --config names another project's file
    code, out = verify(capsys, "--hooks", "skip", "--image", "/", str(arc))
    assert code == 0
    monkeypatch.chdir(tmp_path)
    code, out = verify(capsys, "--hooks", "skip", "--config", str(project / "agentkit.yml"),
                       str(arc))
    assert code == 1 and out["failed_event"] == "Install"


@pytest.mark.parametrize(("text", "said"), [
    ("verify:\n  image: nosuch\n", "{dir}/agentkit.yml: verify > image: {dir}/nosuch does "
     "not exist. Fetch the image there (a directory, or a tar/tar.gz of the instance's root "
     "file system), or pass --image."),
    ("version: 1\nverify:\n  imag: x\n", "{dir}/agentkit.yml:3: verify > imag: unknown key; "
     "expected one of image."),
    ("verify: al2023\n", "{dir}/agentkit.yml:1: verify: expected a mapping such as `image: "
     "images/al2023.tar.gz`."),
    ("verify:\n  image: [a]\n", "{dir}/agentkit.yml:2: verify > image: expected the path of "
     "an image directory or tarball, got ['a']."),
])
def test_verify_image_from_agentkit_yml_bad_values_are_clear_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str) -> None:
    from agentkit.cli import main

    (tmp_path / "agentkit.yml").write_text(text)
    code = main(["verify", "--config", str(tmp_path / "agentkit.yml"),
                 str(_bundle(tmp_path, "/srv/app"))])
    assert code == 2
    assert capsys.readouterr().err.strip() == "agentkit: error: " + said.format(dir=tmp_path)
