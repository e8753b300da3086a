"""`agentkit lint DIR`: the bundle's content it can see (hook scripts, `files` sources, links)
and the hooks' agentkit.yml next to the appspec, judged against it, before deploy time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

SPEC = ("version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/app\n"
        "hooks:\n  ApplicationStart:\n    - location: scripts/agentkit-hook.sh\n"
        "      timeout: 30\n  ValidateService:\n    - location: scripts/agentkit-hook.sh\n"
        "      timeout: 60\n")
CONFIG_HINT = ("fix the key as the message says (every key: `agentkit rule AK600`, "
               "docs/reference/agentkit-yml.md)")


def _bundle(tmp: Path, config: str | None, shim: bytes = b"#!/bin/sh\necho hi\n",
            site: bool = True) -> Path:
    bundle = tmp / "b"
    (bundle / "scripts").mkdir(parents=True)
    (bundle / "appspec.yml").write_text(SPEC)
    (bundle / "scripts/agentkit-hook.sh").write_bytes(shim)
    os.chmod(bundle / "scripts/agentkit-hook.sh", 0o755)
    if site:
        (bundle / "site").mkdir()
        (bundle / "site/index.html").write_text("hi")
    if config is not None:
        (bundle / "agentkit.yml").write_text(config)
    return bundle


def _findings(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[Any]]:
    code = main(["lint", "--format", "json", str(path)])
    out = json.loads(capsys.readouterr().out)
    return code, [{k: f[k] for k in ("severity", "code", "path", "line", "message")}
                  for f in out["files"][0]["findings"]]


def test_lint_bundle_clean_with_its_config(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, "version: 1\nrelease: /srv/app\nhealth:\n"
                     "  file: /srv/app/health.html\nevents:\n  ValidateService: [health up]\n")
    assert _findings(capsys, bundle) == (0, [])


def test_lint_bundle_content_crlf_shim_and_missing_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, None, shim=b"#!/bin/sh\r\necho hi\n", site=False)
    code, found = _findings(capsys, bundle)
    assert code == 1
    assert found == [  # the shim is listed twice and judged once
        {"severity": "error", "code": "AK504", "path": f"{bundle}/scripts/agentkit-hook.sh",
         "line": 1, "message": "hooks > ApplicationStart, ValidateService > "
         "scripts/agentkit-hook.sh: the shebang line ends in CR (Windows line endings): the "
         "kernel looks for an interpreter named with a trailing \\r and the agent reports a "
         "misleading 'No such file'"},
        {"severity": "error", "code": "AK507", "path": f"{bundle}/appspec.yml", "line": 4,
         "message": "files[0] > source: site is not in the bundle"}]


def test_lint_bundle_config_against_the_appspec(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, (
        "version: 1\nrelease: /var/www/$DEPLOYMENT_ID\nvalidate:\n  url: http://127.0.0.1/\n"
        "  deadline: 90\n  timeout: 5\nhealth:\n  file: /srv/app/h.html\n"
        "  drain: {interval: 10, unhealthy_threshold: 3, timeout: 5}\n"
        "events:\n  ApplicationStop: [health down]\n  ValidateService: [validate]\n"))
    config = f"{bundle}/agentkit.yml"
    code, found = _findings(capsys, bundle)
    assert code == 1
    assert found == [
        {"severity": "warning", "code": "AK602", "path": config, "line": 2,
         "message": "release: /var/www/$DEPLOYMENT_ID is not installed by this deployment "
         "(the `files` destinations of appspec.yml are /srv/app): the hooks would link and "
         "fix a directory the bundle does not put there"},
        {"severity": "warning", "code": "AK603", "path": config, "line": 2,
         "message": "release: $DEPLOYMENT_ID is not expanded: the hooks use the path as "
         "written, /var/www/$DEPLOYMENT_ID"},
        {"severity": "error", "code": "AK601", "path": config, "line": 5,
         "message": "validate > deadline: validate.deadline (90 s) plus one try (5 s) does "
         "not fit in the ValidateService hook's timeout (60 s, appspec.yml line 11): the "
         "agent kills the hook before validate reports"},
        {"severity": "warning", "code": "AK604", "path": config, "line": 11,
         "message": "events > ApplicationStop: appspec.yml runs no script under "
         "ApplicationStop, so health down never runs"}]


def test_lint_bundle_health_drain_longer_than_its_hook(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, (
        "version: 1\nrelease: /srv/app\nhealth:\n  file: /srv/app/h.html\n"
        "  drain: {interval: 10, unhealthy_threshold: 3, timeout: 5}\n"
        "events:\n  ApplicationStart: [health down]\n"))
    code, found = _findings(capsys, bundle)
    assert code == 1
    assert found == [
        {"severity": "error", "code": "AK601", "path": f"{bundle}/agentkit.yml", "line": 5,
         "message": "health > drain: the health drain (10 x 3 + 5 = 35 s) does not fit in "
         "the ApplicationStart hook's timeout (30 s, appspec.yml line 8): the agent kills "
         "the hook while it waits for the load balancer"}]


def test_lint_bundle_config_every_problem_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, "version: 1\nshared:\n  dirs: [media]\nbogus: 1\n")
    config = f"{bundle}/agentkit.yml"
    assert _findings(capsys, bundle) == (1, [
        {"severity": "error", "code": "AK600", "path": config, "line": 3,
         "message": "shared: `root` (the shared storage directory) is required"},
        {"severity": "error", "code": "AK600", "path": config, "line": 4,
         "message": "bogus: unknown key; expected one of version, release, shared, "
         "permissions, health, validate, preflight, events, log, releases, deploy, verify"}])


def test_lint_bundle_config_syntax_error_is_one_finding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, "version: 1\nevents: [\n")
    code = main(["lint", str(bundle)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{bundle}/agentkit.yml:3:1: error AK600: YAML syntax: " in out
    assert f"    fix: {CONFIG_HINT}\n" in out


def test_lint_bundle_without_appspec_at_the_root_says_where_one_is(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a bundle directory made one level too high (the checkout, with the app below it)
    (tmp_path / "build/shop").mkdir(parents=True)
    (tmp_path / "build/shop/appspec.yml").write_text("version: 0.0\nos: linux\n")
    (tmp_path / "README").write_text("x\n")
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert (finding["code"], finding["message"]) == ("AK150", (
        f"{tmp_path}: no appspec.yml (or appspec.yaml) at the bundle root; there is one at "
        "build/shop/appspec.yml: the archive was made from a directory above the bundle, so "
        "put what build/shop/ holds at the archive's root (tar -C build/shop -czf app.tgz ., "
        "or zip from inside it; agentkit bundle does this)"))


def test_lint_dot_judges_relative_links_inside_the_bundle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `agentkit lint .`: the bundle is "." and a link's target `site` is inside it (was AK513)
    bundle = _bundle(tmp_path, None)
    (bundle / "current").symlink_to("site")
    (bundle / "away").symlink_to("../elsewhere")
    monkeypatch.chdir(bundle)
    assert main(["lint", "--format", "json", "."]) == 1
    found = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert sorted((f["code"], f["path"], f["message"]) for f in found) == [
        ("AK510", "./current", "symlink -> site is a directory: the agent's installer copies "
         "the target's whole content instead of the link (1 files, 0.0 MB here)"),
        ("AK513", "./away", "symlink -> ../elsewhere points outside the bundle")]
