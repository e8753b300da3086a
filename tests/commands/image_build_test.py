"""agentkit image build: a real Debian image made by debootstrap from a package list, and
verify against it: the package's own nginx unit (Type=forking, ExecStartPre `nginx -t`) run
by the box's systemctl on the image's python3, the image's owners (www-data) kept.

Building needs real root, debootstrap and the Debian mirror; CI builds one as root and hands
it to the plain user's run through AGENTKIT_TEST_IMAGE."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from agentkit import proc
from agentkit.cli import main
from agentkit.errors import FatalError
from agentkit.image import build as image_build
from agentkit.verify import hookbox

from ..archives import script, tar
from .verify_fidelity_test import verify

MIRROR = image_build.DEFAULT_MIRRORS["debian"]
JOB_FAILED = ("Job for nginx.service failed because the control process exited with "
              "error code.")


def _why_no_build() -> str | None:
    if os.geteuid() != 0:
        return "debootstrap needs real root (CI hands the plain run its image)"
    if proc.which("debootstrap") is None:
        return "debootstrap is not installed (.ci/run installs it)"
    try:
        requests.head(f"{MIRROR}/dists/bookworm/Release", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        return f"the Debian mirror is not reachable from here ({exc})"
    return None


class Built:
    def __init__(self, path: Path, built_here: bool, cache: Path) -> None:
        self.path, self.built_here, self.cache = path, built_here, cache


@pytest.fixture(scope="module")
def debian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    from agentkit.image import cache as image

    cache = tmp_path_factory.mktemp("xdg") / "agentkit" / "images"  # verify's default
    given = os.environ.get("AGENTKIT_TEST_IMAGE")
    if given:
        yield Built(Path(given), False, cache)
    else:
        why = _why_no_build()
        if why:
            pytest.skip(why)
        out = tmp_path_factory.mktemp("build") / "debian.tar.gz"
        assert main(["image", "build", "--packages", "nginx,curl", "-o", str(out)]) == 0
        yield Built(out, True, cache)
    for entry in image.entries(str(cache)):
        image.remove(entry.root)


def _bundle(tmp_path: Path, start: str, extra: list[Any] | None = None) -> Path:
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: "
            "/var/www/html\nfile_exists_behavior: OVERWRITE\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n      timeout: 60\n  ValidateService:\n"
            "    - location: check.sh\n      timeout: 60\n")
    return tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("site/health.html", "file", "OK\n", 0o644),
        ("start.sh", "file", script(f'cd "$(dirname "$0")"\n{start}'), 0o755),
        ("check.sh", "file", script("curl -fsS http://127.0.0.1/health.html\n"
                                    "stat -c '%U %G' /var/log/nginx/access.log\n"), 0o755),
        *(extra or [])])


def _verify(capsys: pytest.CaptureFixture[str], debian: Built, monkeypatch: pytest.MonkeyPatch,
            arc: Path) -> tuple[int, dict[str, Any]]:
    if hookbox.unavailable():
        pytest.skip(f"no hook sandbox here: {hookbox.unavailable()}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(debian.cache.parent.parent))
    return verify(capsys, "--image", str(debian.path), str(arc))


def _lines(out: dict[str, Any], name: str) -> list[str]:
    found = next(e for e in out["events"] if e["name"] == name)
    return [o["line"] for s in found["scripts"] for o in s["output"]]


def test_image_build_debian_image_runs_the_package_s_own_nginx_unit(
        tmp_path: Path, debian: Built, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    arc = _bundle(tmp_path, "systemctl restart nginx\nsystemctl enable nginx\n")
    code, out = _verify(capsys, debian, monkeypatch, arc)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    # the log file is www-data's in the image, and so in the box, whoever runs verify
    assert _lines(out, "ValidateService") == ["OK", "www-data adm"]
    [nginx] = out["services"]
    # the package's unit (dpkg put it in /lib/systemd/system: a link to /usr/lib's, merged)
    assert (nginx["unit"], nginx["unit_file"], nginx["state"], nginx["enabled"]) == (
        "nginx.service", "/usr/lib/systemd/system/nginx.service", "active", "enabled")


def test_image_build_debian_image_broken_site_fails_application_start(
        tmp_path: Path, debian: Built, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    site = ("files/broken", "file", "server { listen 80; this_is_no_directive; }\n", 0o644)
    arc = _bundle(tmp_path, "cp files/broken /etc/nginx/sites-enabled/broken\n"
                  "systemctl restart nginx\n", extra=[site])
    code, out = _verify(capsys, debian, monkeypatch, arc)
    assert (code, out["failed_event"]) == (1, "ApplicationStart")
    assert _lines(out, "ApplicationStart") == [
        JOB_FAILED, 'See "systemctl status nginx.service" and "journalctl -xeu '
        'nginx.service" for details.']
    assert any('unknown directive "this_is_no_directive"' in line
               for line in out["services"][0]["log"])


def test_image_build_output_is_whole_and_trimmed(debian: Built) -> None:
    if not debian.built_here:
        pytest.skip("the image was built by CI's root run (AGENTKIT_TEST_IMAGE)")
    assert os.listdir(debian.path.parent) == ["debian.tar.gz"]  # no target, no .partial
    with tarfile.open(debian.path) as t:
        names = set(t.getnames())
        log = t.getmember("./var/log/nginx/access.log")
        release = t.extractfile("./etc/os-release").read().decode()  # type: ignore[union-attr]
    assert "./usr/bin/python3" in names and "./usr/sbin/nginx" in names
    assert not any(n.startswith("./debootstrap") for n in names)
    assert not any(n.startswith("./var/cache/apt/archives/") and n.endswith(".deb")
                   for n in names)
    assert (log.uid, log.uname) == (33, "")  # numeric owners, the image's own
    assert "ID=debian" in release.splitlines()


def test_image_build_bad_names_are_usage_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.tar.gz")
    assert main(["image", "build", "--packages", "nginx,Bad_Name", "-o", out]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: agentkit image build --packages: Bad_Name is not a package name "
        "(lower case letters, digits, + - .; e.g. nginx,curl).\n")
    assert main(["image", "build", "--release", "Bookworm 12", "-o", out]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: agentkit image build --release Bookworm 12: not a release code "
        "name (e.g. bookworm).\n")
    assert os.listdir(tmp_path) == []


def test_image_build_without_root_or_debootstrap_says_how_else(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        assert main(["image", "build", "-o", str(tmp_path / "x.tar.gz")]) == 1
        assert capsys.readouterr().err.splitlines()[-1] == (
            "agentkit: error: agentkit image build runs debootstrap, which needs real root "
            "(it makes device nodes and chroots into the new system): run it with sudo, or "
            "make the image with `docker export` of a container.")
        return
    monkeypatch.setenv("PATH", str(tmp_path))  # no debootstrap on it, nor in SBIN
    monkeypatch.setattr(image_build, "SBIN", ())
    assert main(["image", "build", "-o", str(tmp_path / "x.tar.gz")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "agentkit: error: agentkit image build needs debootstrap (apt-get install "
        "debootstrap). On Amazon Linux, make the image with `dnf --installroot=DIR "
        "--releasever=2023 install python3 PACKAGES` and `tar -C DIR -czf image.tar.gz .`, "
        "or `docker export` of a container.")


def test_image_build_bakes_agentkit_in_as_packaging_does(debian: Built) -> None:
    with tarfile.open(debian.path) as t:
        names = set(t.getnames())
        wrapper = t.extractfile("./usr/local/bin/agentkit").read().decode()  # type: ignore[union-attr]
    # packaging/install.sh's layout: a venv per release, `current` and `bin` links, the wrapper
    assert {"./opt/agentkit/current", "./opt/agentkit/bin"} <= names
    assert wrapper.splitlines()[1] == "# agentkit wrapper (packaging/install.sh)"
    assert not any(n.startswith("./tmp/agentkit-bake") for n in names)


def test_image_build_examples_hooks_call_the_baked_agentkit(
        tmp_path: Path, debian: Built, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # examples/quickstart's hooks are the shim, which runs /opt/agentkit/bin/agentkit: without
    # agentkit in the image they exit 127 ("agentkit is not installed on this instance")
    root = Path(__file__).resolve().parents[2]
    arc = tmp_path / "quickstart.tgz"
    assert main(["bundle", str(root / "examples" / "quickstart"), "-o", str(arc)]) == 0
    capsys.readouterr()
    code, out = _verify(capsys, debian, monkeypatch, arc)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert [e["name"] for e in out["events"] if e["scripts"]] == [
        "AfterInstall", "ApplicationStart", "ValidateService"]


def test_image_build_agentkit_package_must_be_a_deb(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.tar.gz")
    assert main(["image", "build", "--agentkit-package", "agentkit-0.1.0-1.noarch.rpm",
                 "-o", out]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: agentkit image build --agentkit-package agentkit-0.1.0-1.noarch.rpm: "
        "an .rpm is for Amazon Linux and RHEL images, and image build makes Debian and Ubuntu "
        "ones: give the .deb of packaging/build-deb.sh (built on the image's release), or make "
        "an Amazon Linux image with dnf --installroot and `rpm --root DIR -i` the .rpm into "
        "it.\n")
    assert main(["image", "build", "--agentkit-package", str(tmp_path / "a.deb"),
                 "-o", out]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: agentkit image build --agentkit-package {tmp_path}/a.deb: no such "
        "file.\n")
    assert os.listdir(tmp_path) == []


def test_image_build_agentkit_package_and_no_agentkit_exclude_each_other(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "build", "--agentkit-package", "a.deb", "--no-agentkit",
                 "-o", "x.tar.gz"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "agentkit image build: error: argument --no-agentkit: not allowed with argument "
        "--agentkit-package")


def test_image_build_from_a_package_install_names_the_deb_option(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # an agentkit installed from a wheel has no packaging/install.sh beside it
    monkeypatch.setattr(image_build, "_CHECKOUT_FILES", ("no-such-file",))
    with pytest.raises(FatalError) as caught:
        image_build.bake(None, False)
    root = Path(image_build.__file__).resolve().parents[2]
    assert str(caught.value) == (
        "agentkit image build bakes agentkit into the image from its source checkout, and this "
        f"agentkit ({root}) was installed from a package, not run from a checkout: give the "
        ".deb of packaging/build-deb.sh with --agentkit-package FILE.deb, or --no-agentkit for "
        "an image without it.")
