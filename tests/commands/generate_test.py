"""`agentkit init` and `agentkit appspec generate`: a deterministic appspec.yml from
agentkit.yml's deploy: section, every value checked with its line, lint- and verify-clean on
both agent generations."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from agentkit.appspec import deploy_config, generate
from agentkit.appspec.check import lint_source
from agentkit.appspec.rules import RULES
from agentkit.appspec.shim import SHIM
from agentkit.cli import main
from agentkit.yamlconf.agentkit_yml import DEPLOY
from agentkit.yamlconf.source import read_source

from ..boxes import determined, needs_box

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    got = capsys.readouterr()
    return code, got.out, got.err.strip()


def test_init_writes_the_three_files_and_refuses_to_overwrite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "app"
    assert _run(capsys, "init", str(top), "--dry-run")[0] == 0
    assert not top.exists()
    code, out, _ = _run(capsys, "init", str(top))
    assert (code, out) == (0, f"wrote {top}/agentkit.yml, {top}/appspec.yml and "
                              f"{top}/scripts/agentkit-hook.sh\n")
    assert (top / "scripts" / "agentkit-hook.sh").read_text() == SHIM
    assert oct((top / "scripts" / "agentkit-hook.sh").stat().st_mode & 0o777) == "0o755"
    before = (top / "agentkit.yml").read_text()
    (top / "agentkit.yml").write_text(before + "# mine\n")
    assert _run(capsys, "init", str(top)) == (
        1, "", f"agentkit: error: {top}: agentkit.yml, scripts/agentkit-hook.sh, appspec.yml "
        "already exist(s); nothing was written. Pass --force to replace them.")
    assert (top / "agentkit.yml").read_text().endswith("# mine\n")
    assert _run(capsys, "init", str(top), "--force")[0] == 0
    assert (top / "agentkit.yml").read_text() == before


def test_generate_is_byte_identical_and_check_finds_a_drift(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "app"
    _run(capsys, "init", str(top))
    config, spec = str(top / "agentkit.yml"), top / "appspec.yml"
    first = spec.read_bytes()
    assert _run(capsys, "appspec", "generate", "--config", config) == (0, f"wrote {spec}\n", "")
    assert spec.read_bytes() == first
    assert _run(capsys, "appspec", "generate", "--config", config, "--check")[0] == 0
    spec.write_text(first.decode().replace("timeout: 300", "timeout: 30"))
    assert _run(capsys, "appspec", "generate", "--config", config, "--check") == (
        1, "", f"agentkit: {spec} is not what `agentkit appspec generate` writes from "
        f"{config}; run it and commit the result.")


def test_generate_reports_every_problem_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agentkit.yml"
    config.write_text("version: 1\ndeploy:\n  destination: var/www\n  file_mode: 0644\n"
                      "  owner: yes\n  events:\n    AfterInstal: 60\n    ValidateService: 0\n"
                      "  colour: red\n")
    assert _run(capsys, "appspec", "generate", "--config", str(config)) == (
        2, "", f"agentkit: error: 6 problems in {config}:\n"
        f"{config}:3: deploy > destination: expected an absolute path, got 'var/www'\n"
        f"{config}:4: deploy > file_mode: expected three octal digits such as 644, got "
        "'0644'\n"
        f"{config}:5: deploy > owner: expected a user name, got True\n"
        f"{config}:7: deploy > events > AfterInstal: not a lifecycle event with scripts; did "
        "you mean AfterInstall?\n"
        f"{config}:8: deploy > events > ValidateService: expected a timeout in seconds from 1 "
        "to 3600, got 0\n"
        f"{config}:9: deploy > colour: unknown key; expected one of destination, source, "
        "owner, group, file_mode, dir_mode, file_exists_behavior, runas, shim, events, scripts")
    assert not (tmp_path / "appspec.yml").exists()


def _random_config(rng: random.Random) -> deploy_config.DeployConfig:
    names = ["www-data", "nginx", "deploy", "app_user", "ec2-user", "y", "null", "svc.web"]
    events = [e for e in ("ApplicationStop", "BeforeInstall", "AfterInstall",
                          "ApplicationStart", "ValidateService") if rng.random() < 0.5]
    return deploy_config.DeployConfig(
        destination=rng.choice(["/var/www/app", "/srv/my app", "/opt/a-b/c.d", "/"]),
        source=rng.choice(["/", "build", "dist/site"]),
        owner=rng.choice([None, *names]), group=rng.choice([None, *names]),
        file_mode=rng.choice([None, "644", "600", "755"]),
        dir_mode=rng.choice([None, "755", "700"]),
        file_exists_behavior=rng.choice([None, "DISALLOW", "OVERWRITE", "RETAIN"]),
        runas=rng.choice([None, "deploy", "www-data"]),
        shim=rng.choice(["scripts/agentkit-hook.sh", "hooks/run.sh"]),
        events=tuple((e, rng.randint(1, 3600)) for e in events))


@pytest.mark.parametrize("seed", range(40))
def test_generate_any_config_is_lint_clean_on_both_agents(seed: int, tmp_path: Path) -> None:
    cfg = _random_config(random.Random(seed))
    text = generate.render(cfg)
    assert generate.render(cfg) == text  # deterministic
    path = tmp_path / "appspec.yml"
    path.write_text(text)
    for agent in ("1", "2"):
        result = lint_source(read_source(str(path)), agent)
        assert [(f.code, f.message) for f in result.findings] == [], text
        assert result.agent_verdict == "accepted"
        spec = result.appspec
        assert spec is not None
        assert [(m.source, m.destination) for m in spec.files] == [
            (cfg.source, cfg.destination)]
        assert [(n, s[0].timeout) for n, s in spec.hooks.items()] == list(cfg.events)
    # the config that says so gives the same file back
    (tmp_path / "agentkit.yml").write_text(_as_yaml(cfg))
    assert generate.render(deploy_config.parse(str(tmp_path / "agentkit.yml"))) == text


def _as_yaml(cfg: deploy_config.DeployConfig) -> str:
    lines = ["version: 1", "deploy:"]
    for key in DEPLOY.names():
        value = getattr(cfg, key)
        if key in ("events", "scripts"):
            if value:
                lines.append(f"  {key}:")
                lines += [f"    {name}: {json.dumps(list(v)) if key == 'scripts' else v}"
                          for name, v in value]
        elif value is not None:  # modes as the digits they are; the rest quoted
            lines.append(f"  {key}: {value if key.endswith('mode') else json.dumps(value)}")
    return "\n".join(lines) + "\n"


@needs_box
def test_init_bundle_verify_is_clean_on_both_agents(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "app"
    _run(capsys, "init", str(top), "--destination", str(tmp_path / "www"))
    (top / "index.html").write_text("<h1>hi</h1>")
    assert _run(capsys, "bundle", str(top), "-o", str(tmp_path / "app.tgz"), "--mtime",
                "0")[0] == 0
    for agent in ("1", "2"):
        code = main(["verify", "--format", "json", "--agent", agent, str(tmp_path / "app.tgz")])
        out = json.loads(capsys.readouterr().out)
        determined(out)
        assert (code, out["result"], out["findings"]) == (0, "succeeded", []), out["error"]
        assert (tmp_path / "www" / "healthcheck.html").exists() is False  # only in the box
        tree = {n["path"] for n in out["tree"]}
        assert f"{tmp_path}/www/healthcheck.html" in tree  # written by `health up` there


def test_shim_is_the_repository_s_and_says_what_is_missing(tmp_path: Path) -> None:
    for copy in ("hooks", "examples/quickstart/scripts", "examples/webapp/scripts",
                 "examples/capistrano-app/scripts"):
        assert (ROOT / copy / "agentkit-hook.sh").read_text() == SHIM
    bundle = tmp_path / "b"
    (bundle / "scripts").mkdir(parents=True)
    (bundle / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (bundle / "scripts" / "agentkit-hook.sh").write_text(SHIM)
    env = {"PATH": "/usr/bin:/bin", "LIFECYCLE_EVENT": "AfterInstall"}
    if os.path.exists("/opt/agentkit/bin/agentkit") or \
            any(os.path.exists(f"{d}/agentkit") for d in ("/usr/bin", "/bin")):
        pytest.skip("agentkit is installed on this machine: the shim finds it")
    done = subprocess.run(["/bin/sh", str(bundle / "scripts" / "agentkit-hook.sh")], env=env,
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (
        127, "", "agentkit-hook: agentkit is not installed on this instance (no "
        "/opt/agentkit/bin/agentkit, none on PATH); bake it into the AMI (packaging/)\n")


def test_generate_with_releases_stages_the_bundle_in_releases_staging(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agentkit.yml"
    config.write_text("version: 1\nreleases:\n  root: /srv/shop\n  swap: ApplicationStart\n"
                      "deploy:\n  events:\n    ValidateService: 60\nevents:\n"
                      "  AfterInstall: [release]\n  ApplicationStart: [release]\n")
    assert _run(capsys, "appspec", "generate", "--config", str(config))[0] == 0
    spec = lint_source(read_source(str(tmp_path / "appspec.yml"))).appspec
    assert spec is not None
    assert [f.destination for f in spec.files] == ["/srv/shop/staging"]
    # the release's events get the shim too, in the agent's order
    assert [(name, [s.timeout for s in scripts]) for name, scripts in spec.hooks.items()] == [
        ("AfterInstall", [300]), ("ApplicationStart", [300]), ("ValidateService", [60])]
    config.write_text("version: 1\nreleases:\n  root: /srv/shop\n  staging: /srv/stage\n"
                      "deploy:\n  destination: /srv/shop/current\n")
    assert _run(capsys, "appspec", "generate", "--config", str(config)) == (
        2, "", f"agentkit: error: {config}:6: deploy > destination: with `releases:` the "
        "bundle is staged in /srv/stage (releases.staging), not /srv/shop/current: drop "
        "`destination` or make it that path")


def test_generate_scripts_run_after_the_shim_with_the_events_timeout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agentkit.yml"
    config.write_text("version: 1\ndeploy:\n  destination: /srv/app\n  events:\n"
                      "    ApplicationStart: 60\n  scripts:\n"
                      "    ApplicationStart: [scripts/start.sh, scripts/warm.sh]\n")
    assert _run(capsys, "appspec", "generate", "--config", str(config))[0] == 0
    spec = lint_source(read_source(str(tmp_path / "appspec.yml"))).appspec
    assert spec is not None
    assert [(s.location, s.timeout) for s in spec.hooks["ApplicationStart"]] == [
        ("scripts/agentkit-hook.sh", 60), ("scripts/start.sh", 60), ("scripts/warm.sh", 60)]
    config.write_text("version: 1\ndeploy:\n  destination: /srv/app\n  events:\n"
                      "    ApplicationStart: 60\n  scripts:\n    ValidateService: [a.sh]\n"
                      "    ApplicationStart: [../start.sh]\n")
    assert _run(capsys, "appspec", "generate", "--config", str(config)) == (
        2, "", f"agentkit: error: 2 problems in {config}:\n"
        f"{config}:7: deploy > scripts > ValidateService: ValidateService is not in `events` "
        "(which gives each event its timeout): add it there\n"
        f"{config}:8: deploy > scripts > ApplicationStart: expected a list of paths inside "
        "the bundle, got ['../start.sh']")


def test_generate_check_fails_on_agentkit_yml_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--check gates CI: agentkit.yml's errors that lint reports fail it, though appspec.yml
    is what generate writes."""
    top = tmp_path / "app"
    _run(capsys, "init", str(top))
    config = top / "agentkit.yml"
    config.write_text(config.read_text() + "colour: red\n")
    line = len(config.read_text().splitlines())
    assert _run(capsys, "appspec", "generate", "--config", str(config), "--check") == (
        1, "", f"{config}:{line}:1: error AK600: colour: unknown key; expected one of version, "
        "release, shared, permissions, health, validate, preflight, events, log, releases, "
        "deploy, verify\n"
        f"    fix: {RULES['AK600'].hint}\n"
        f"agentkit: {config} has 1 error(s) (above) that lint reports; fix them, then run "
        "`agentkit appspec generate` again.")
