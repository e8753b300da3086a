"""The flagship pattern verified end to end: a bundle that ships `media/`, and an AfterInstall
hook that runs `agentkit hook link-shared` in verify's box. Install's files sit in the box's
lower layer there (overlayfs), where the directory cannot be renamed (EXDEV): the hook copies
it aside and makes the link, and verify predicts success, for root and for a plain user."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentkit.cli import main
from agentkit.verify import hookbox

from ..archives import tar

pytestmark = pytest.mark.skipif(hookbox.unavailable() is not None,
                                reason=f"no hook sandbox here: {hookbox.unavailable()}")


def _bundle(tmp: Path, on_conflict: str) -> Path:
    dest, share = tmp / "app", tmp / "share"
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {dest}\n"
            "hooks:\n  AfterInstall:\n    - location: link.sh\n      timeout: 60\n")
    config = (f"version: 1\nrelease: {dest}\nshared:\n  root: {share}\n  dirs: [media]\n"
              f"  on_conflict: {on_conflict}\n")
    hook = (f"#!/bin/sh\nset -eu\nexec agentkit hook link-shared "
            f"--config {dest}/agentkit.yml\n")
    return tar(tmp / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("agentkit.yml", "file", config, 0o644),
        ("link.sh", "file", hook, 0o755), ("media/a.jpg", "file", "a", 0o644),
        ("media/sub/b.jpg", "file", "b", 0o644)])


def _verify(capsys: pytest.CaptureFixture[str], archive: Path) -> tuple[int, dict]:
    code = main(["verify", "--format", "json", str(archive)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("on_conflict", ["seed", "backup"])
def test_link_shared_in_the_verify_box_makes_the_link(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], on_conflict: str) -> None:
    code, out = _verify(capsys, _bundle(tmp_path, on_conflict))
    assert (code, out["result"]) == (0, "succeeded"), out
    after = next(e for e in out["events"] if e["name"] == "AfterInstall")
    assert after["status"] == "succeeded"
    lines = [o["line"] for o in after["scripts"][0]["output"]]
    assert any("copying it aside instead" in line for line in lines), lines
    assert not any("Traceback" in line or "agentkit-tmp" in line for line in lines), lines
    changes = {c["path"]: c["change"] for c in out["changes"]}
    assert changes[f"{tmp_path}/share/media"] == "created"
    if on_conflict == "seed":  # the shipped files went to the share, nothing left behind
        assert changes[f"{tmp_path}/share/media/sub/b.jpg"] == "created"
    assert any("cleanup file no longer names" in line for line in lines), lines
    assert not os.path.exists(tmp_path / "share")  # the host never felt it
    assert not os.path.exists(tmp_path / "app")
