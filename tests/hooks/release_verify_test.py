"""A release deployment verified end to end: Install stages the bundle, AfterInstall's
`agentkit hook run` builds releases/<id> in verify's box and swaps current; the report's
changes show the new release and the link, and the host never feels it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentkit.cli import main
from agentkit.verify import hookbox

from ..archives import tar

pytestmark = pytest.mark.skipif(hookbox.unavailable() is not None,
                                reason=f"no hook sandbox here: {hookbox.unavailable()}")


def test_release_in_the_verify_box_shows_the_new_release_and_current(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "app"
    spec = (f"version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: "
            f"{root}/staging\n  - source: agentkit.yml\n    destination: {tmp_path}/etc\n"
            "hooks:\n  AfterInstall:\n    - location: hook.sh\n      timeout: 60\n")
    config = (f"version: 1\nreleases:\n  root: {root}\nevents:\n  AfterInstall: [release]\n"
              f"log:\n  file: {tmp_path}/hooks.log\n")
    hook = (f"#!/bin/sh\nset -eu\nexec agentkit hook run "
            f"--config {tmp_path}/etc/agentkit.yml\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("agentkit.yml", "file", config, 0o644),
        ("hook.sh", "file", hook, 0o755), ("site/index.html", "file", "<h1>v1</h1>", 0o644)])
    code = main(["verify", "--format", "json", "--deployment-group", "dg-rel", str(arc)])
    out = json.loads(capsys.readouterr().out)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    rid = out["deployment_id"]
    changes = {c["path"]: c for c in out["changes"]}
    assert (changes[f"{root}/current"]["type"], changes[f"{root}/current"]["target"]) == (
        "symlink", f"releases/{rid}")
    assert changes[f"{root}/releases/{rid}/index.html"]["change"] == "created"
    assert changes[f"{root}/releases/{rid}/REVISION"]["change"] == "created"
    assert f"{root}/staging/index.html" not in changes or \
        changes[f"{root}/staging/index.html"]["change"] == "deleted"
    assert not root.exists()  # the host never felt it
