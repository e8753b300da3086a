"""The seed's pipeline end to end, real parts only: examples/capistrano-app is bundled,
pushed to moto's S3 server on 127.0.0.1 and verified from there. In verify's box the hooks
build releases/<id>, link the shared dirs into the "EFS" (a tmpfs as root), fix the share's
permissions, write the health file; nginx, restarted by ApplicationStart through the box's
systemctl, serves `current`, and `agentkit hook validate` checks it over HTTP. Then the
seed's two mistakes: Capistrano's links dereferenced into the archive, and chown on a share
that refuses it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main
from agentkit.verify import hookbox

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "capistrano-app"
pytestmark = [
    pytest.mark.skipif(hookbox.unavailable() is not None,
                       reason=f"no hook sandbox here: {hookbox.unavailable()}"),
    pytest.mark.skipif(not os.path.exists("/lib/systemd/system/nginx.service"),
                       reason="nginx and its unit are not installed here (.ci/run installs them)")]


@pytest.fixture
def efs(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The share: a tmpfs mounted for the test as root (`require_mount: any` holds), a plain
    directory for a user who may not mount (`require_mount: none`)."""
    share = tmp_path / "efs"
    share.mkdir()
    if os.geteuid() != 0:
        yield share, "none"
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(share)], check=True)
    try:
        yield share, "any"
    finally:
        subprocess.run(["chattr", "-R", "-i", str(share)], capture_output=True, check=False)
        subprocess.run(["umount", "-l", str(share)], check=False)


def _project(tmp: Path, share: Path, mount: str) -> Path:
    """The example, as the CI job checks it out, with the share where this test has one."""
    app = tmp / "app"
    shutil.copytree(EXAMPLE, app)
    config = app / "agentkit.yml"
    text = config.read_text()
    for old, new in (("root: /mnt/efs/shop", f"root: {share}/shop"),
                     ("path: /mnt/efs/shop", f"path: {share}/shop"),
                     ("require_mount: nfs4", f"require_mount: {mount}")):
        assert old in text
        text = text.replace(old, new)
    config.write_text(text + f"log:\n  file: {tmp}/hooks.log\n")  # not the host's /var/log
    return app


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def _lines(out: dict[str, Any], event: str) -> list[str]:
    [found] = [e for e in out["events"] if e["name"] == event]
    return [o["line"] for s in found["scripts"] for o in s["output"]]


def test_pipeline_example_appspec_is_what_its_agentkit_yml_generates(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["appspec", "generate", "--config", str(EXAMPLE / "agentkit.yml"),
                 "--check"]) == 0
    assert main(["lint", str(EXAMPLE)]) == 0
    capsys.readouterr()


def test_pipeline_bundle_push_verify_from_s3_serves_the_release_through_nginx(
        tmp_path: Path, bucket: str, efs: tuple[Path, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    share, mount = efs
    app = _project(tmp_path, share, mount)
    arc = tmp_path / "shop.tgz"
    assert main(["bundle", str(app), "-o", str(arc)]) == 0
    assert main(["push", str(arc), f"s3://{bucket}/shop/1.tgz"]) == 0
    [uploaded] = [li for li in capsys.readouterr().out.splitlines() if li.startswith("uploaded")]
    location = uploaded.split(" to ", 1)[1]
    code, out = _verify(capsys, "--junit", str(tmp_path / "verify.xml"), location)
    assert (code, out["result"], out["archive"]) == (0, "succeeded", location), out["error"]
    assert out["findings"] == []
    rid = out["deployment_id"]
    changes = {c["path"]: c for c in out["changes"]}
    current = changes["/var/www/shop/current"]
    assert (current["type"], current["target"]) == ("symlink", f"releases/{rid}")
    media = changes[f"/var/www/shop/releases/{rid}/public/media"]
    assert (media["type"], media["target"]) == ("symlink", f"{share}/shop/public/media")
    assert changes[f"/var/www/shop/releases/{rid}/public/healthcheck.html"]["change"] == \
        "created"
    assert changes[f"{share}/shop/var"]["change"] == "created"
    [nginx] = out["services"]
    assert (nginx["unit"], nginx["state"], nginx["enabled"]) == (
        "nginx.service", "active", "enabled")
    assert _lines(out, "ApplicationStart")[-1] == "nginx serves /var/www/shop/current"
    assert any("validate passed" in line for line in _lines(out, "ValidateService"))
    assert "<testsuite" in (tmp_path / "verify.xml").read_text()
    assert os.listdir(share) == []  # the host's share never felt it
    assert not os.path.lexists("/var/www/shop")


def test_pipeline_dereferenced_capistrano_links_are_caught(
        tmp_path: Path, efs: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    # the seed's build ran `tar -h`: shared/media came along as a directory of the release
    share, mount = efs
    app = _project(tmp_path, share, mount)
    media = app / "public" / "media"
    media.mkdir()
    for i in range(1200):
        (media / f"{i}.jpg").write_bytes(b"\xff\xd8")
    arc = tmp_path / "shop.tgz"
    assert main(["bundle", str(app), "-o", str(arc)]) == 0
    capsys.readouterr()
    code, out = _verify(capsys, str(arc))
    assert (code, out["failed_event"]) == (1, "AfterInstall")
    assert [(f["code"], f["message"]) for f in out["findings"]] == [(
        "AK514", "public/media/ holds 1200 files: it looks like shared storage that was "
        "copied into the archive")]
    assert any(line.endswith(
        f"public/media is a real directory (it came in the archive), where the link to "
        f"{share}/shop/public/media belongs; on_conflict is fail. Remove it from the archive, "
        "or set shared.on_conflict to backup or seed.") for line in _lines(out, "AfterInstall"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chattr +i (the share refusing chown) needs root")
def test_pipeline_chown_refused_by_the_share_is_reported_with_advice(
        tmp_path: Path, efs: tuple[Path, str]) -> None:
    share, mount = efs
    app = _project(tmp_path, share, mount)
    locked = share / "shop" / "var" / "sessions"
    locked.mkdir(parents=True)
    subprocess.run(["chattr", "+i", str(locked)], check=True)  # as root-squashed NFS refuses
    seed = subprocess.run(["chown", "-R", "www-data:www-data", str(share / "shop")],
                          capture_output=True, text=True, check=False)
    assert seed.returncode == 1  # the seed's hook line, and what it printed
    assert seed.stderr.strip() == (f"chown: changing ownership of '{locked}': Operation not "
                                   "permitted")
    hook = subprocess.run([sys.executable, "-m", "agentkit", "hook", "permissions", "--config",
                           str(app / "agentkit.yml")], capture_output=True, text=True,
                          check=False, env={**os.environ, "NO_COLOR": "1"})
    assert hook.returncode == 0, hook.stderr  # reported, not fatal (strict: false)
    assert (f"could not change 1 path(s) under {share}/shop on {share} (tmpfs): {locked} "
            "(Operation not permitted). Likely cause: the files are immutable "
            "(chattr +i) or the filesystem refuses root. Exclude these paths, set ownership "
            "on the storage side, or set strict: true to fail on it.") in hook.stdout
