"""verify's codedeploy-local and deployment options: --appspec-filename, --events with custom
names and the order codedeploy-local requires, --ignore-application-stop-failures,
--agent-configuration-file, --bundle-location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentkit.cli import main

from ..archives import appspec, script, tar
from .verify_fidelity_test import event, stdout_of, verify

ECHO = script('echo "$LIFECYCLE_EVENT"\n')


def _bundle(tmp_path: Path, hooks: str, name: str = "appspec.yml",
            extra: tuple[tuple[str, str, str, int], ...] = ()) -> Path:
    return tar(tmp_path / f"b{len(os.listdir(tmp_path))}.tgz", [
        (name, "file", appspec(tmp_path / "app", hooks), 0o644),
        ("s/e.sh", "file", ECHO, 0o755), *extra])


def test_options_appspec_filename_is_what_the_hooks_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: s/e.sh\n", name="deploy.yml")
    code, out = verify(capsys, "--appspec-filename", "deploy.yml", str(arc))
    assert (code, out["result"]) == (0, "succeeded")
    assert stdout_of(out, "AfterInstall") == ["AfterInstall"]
    assert f"{tmp_path}/app/deploy.yml" in {n["path"] for n in out["tree"]}


def test_options_appspec_filename_missing_fails_before_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Install would fall back to appspec.yaml/.yml; the hook executor reads only the name
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: s/e.sh\n")
    code, out = verify(capsys, "--appspec-filename", "deploy.yml", str(arc))
    assert code == 1
    assert out["failed_event"] == "BeforeInstall"
    archive = out["error"]["message"].split('unpacked to directory "')[1].split('"')[0]
    assert out["error"]["message"] == (
        "The CodeDeploy agent did not find an AppSpec file within the unpacked revision "
        "directory at revision-relative path \"deploy.yml\". The revision was unpacked to "
        f"directory \"{archive}\", and the AppSpec file was expected but not found at path "
        f"\"{archive}/deploy.yml\". Consult the AWS CodeDeploy Appspec documentation for more "
        "information at "
        "http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html")


def test_options_appspec_filename_outside_the_bundle_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "")
    assert main(["verify", "--appspec-filename", "../etc/x.yml", str(arc)]) == 1
    assert capsys.readouterr().err.strip() == (
        "agentkit: error: --appspec-filename '../etc/x.yml': give a path relative to the "
        "bundle root, inside it (e.g. appspec.yml or deploy/appspec-prod.yml).")


def test_options_events_run_in_the_given_order_with_custom_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = ("  SmokeTest:\n    - location: s/e.sh\n  ApplicationStart:\n"
             "    - location: s/e.sh\n  AfterInstall:\n    - location: s/e.sh\n")
    code, out = verify(capsys, "--events", "ApplicationStart,SmokeTest", str(_bundle(tmp_path,
                                                                                   hooks)))
    assert (code, out["result"]) == (0, "succeeded")
    # deployer.rb: DownloadBundle and Install first, then the events as given
    assert [e["name"] for e in out["events"]] == ["DownloadBundle", "Install",
                                                  "ApplicationStart", "SmokeTest"]
    assert stdout_of(out, "SmokeTest") == ["SmokeTest"]
    assert event(out, "SmokeTest")["revision"] == "current"
    assert out["findings"] == []  # SmokeTest is known to this deployment: not AK132


def test_options_events_given_install_gets_download_bundle_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, "--events", "BeforeInstall,Install", str(_bundle(tmp_path, "")))
    assert code == 0
    assert [e["name"] for e in out["events"]] == ["DownloadBundle", "BeforeInstall", "Install"]


@pytest.mark.parametrize(("events", "message"), [
    ("Install,DownloadBundle", "The only events that can be specified before "
     "DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the "
     "order of your specified events: Install,DownloadBundle"),
    ("AfterInstall,DownloadBundle", "The only events that can be specified before "
     "DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the "
     "order of your specified events: AfterInstall,DownloadBundle"),
    ("ValidateService,Install", "The only events that can be specified before Install are "
     "BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. "
     "Please fix the order of your specified events: ValidateService,Install"),
])
def test_options_events_out_of_order_is_codedeploy_local_s_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], events: str, message: str) -> None:
    assert main(["verify", "--events", events, str(_bundle(tmp_path, ""))]) == 2
    assert capsys.readouterr().err.strip() == f"agentkit: error: --events: {message}"


def test_options_events_with_spaces_is_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--events", "BeforeInstall, AfterInstall",
                 str(_bundle(tmp_path, ""))]) == 2
    assert capsys.readouterr().err.strip() == (
        "agentkit: error: --events 'BeforeInstall, AfterInstall': ' AfterInstall' is empty or has "
        "spaces around it, which codedeploy-local would take as an event name; write the names "
        "separated by commas alone, e.g. --events BeforeInstall,AfterInstall.")


@pytest.mark.parametrize(("name", "meant"), [("AfterInstal", "AfterInstall"),
                                             ("afterinstall", "AfterInstall"),
                                             ("Validate_Service", "ValidateService")])
def test_options_events_misspelt_lifecycle_event_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, meant: str) -> None:
    assert main(["verify", "--events", f"BeforeInstall,{name}",
                 str(_bundle(tmp_path, ""))]) == 2
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: --events 'BeforeInstall,{name}': {name} is not a lifecycle event "
        f"(did you mean {meant}?); codedeploy-local would run it as a custom event and "
        f"nothing of {meant} would run. Lifecycle events: BeforeBlockTraffic,"
        "AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall,Install,AfterInstall,"
        "ApplicationStart,ValidateService,BeforeAllowTraffic,AfterAllowTraffic; any other "
        "name is a custom event whose hooks the appspec lists under that name.")


@pytest.mark.parametrize("group", ["../../esc", "a/b", "..", ".", "", "g" * 240])
def test_options_deployment_group_that_is_not_one_name_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], group: str) -> None:
    (tmp_path / "in").mkdir()
    arc, state = _bundle(tmp_path / "in", ""), tmp_path / "in/state"
    for extra in ([], ["--state-dir", str(state)]):
        assert main(["verify", "--deployment-group", group, *extra, str(arc)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"agentkit: error: --deployment-group {group!r}: give one name without '/' (not "
            "'.' or '..', at most 230 bytes), e.g. the deployment group id (`aws deploy "
            "get-deployment-group`) or dg-verify; it names a directory of the agent's "
            "deployment root.")
    assert sorted(os.listdir(tmp_path)) == ["in"]  # nothing written, in or beside it
    assert os.listdir(tmp_path / "in") == [arc.name]


def _failing_stop(tmp_path: Path) -> Path:
    return _bundle(tmp_path, "  ApplicationStop:\n    - location: s/stop.sh\n",
                   extra=(("s/stop.sh", "file", script("echo stopping\nexit 3\n"), 0o755),))


def test_options_failing_application_stop_fails_the_next_deployment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    assert verify(capsys, "--state-dir", str(state), str(_failing_stop(tmp_path)))[0] == 0
    code, out = verify(capsys, "--state-dir", str(state), str(_bundle(tmp_path, "")))
    assert (code, out["failed_event"]) == (1, "ApplicationStop")
    assert out["error"]["message"] == ("Script at specified location: s/stop.sh failed with "
                                       "exit code 3")


def test_options_previous_that_fails_application_stop_keeps_the_bundle_type_in_the_header(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the current revision is never unpacked, yet the header still names its type
    new = _bundle(tmp_path, "")
    assert main(["verify", "--previous", str(_failing_stop(tmp_path)), str(new)]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith(
        f"agentkit verify {new} (tgz bundle, agent 1.x, group ")


def test_options_ignore_application_stop_failures_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    assert verify(capsys, "--state-dir", str(state), str(_failing_stop(tmp_path)))[0] == 0
    code, out = verify(capsys, "--state-dir", str(state), "--ignore-application-stop-failures",
                       str(_bundle(tmp_path, "  AfterInstall:\n    - location: s/e.sh\n")))
    assert (code, out["result"], out["failed_event"]) == (0, "succeeded", None)
    assert event(out, "ApplicationStop")["status"] == "failed (ignored)"
    assert stdout_of(out, "ApplicationStop") == ["stopping"]
    assert stdout_of(out, "AfterInstall") == ["AfterInstall"]
    assert ("ApplicationStop failed (Script at specified location: s/stop.sh failed with exit "
            "code 3); the deployment goes on: --ignore-application-stop-failures") in out["notes"]


def test_options_relative_state_dir_keeps_scripts_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a relative --state-dir made every scripts.log write fail: one note per hook event
    monkeypatch.chdir(tmp_path)
    hooks = "".join(f"  {e}:\n    - location: s/e.sh\n"
                    for e in ("ApplicationStop", "BeforeInstall", "AfterInstall"))
    for deployment in (1, 2):
        code, out = verify(capsys, "--state-dir", "state", "--file-exists-behavior",
                           "OVERWRITE", str(_bundle(tmp_path, hooks)))
        assert (code, out["result"]) == (0, "succeeded")
        assert [n for n in out["notes"] if "scripts.log" in n] == []
        assert stdout_of(out, "AfterInstall") == ["AfterInstall"]
        assert [line.split(" ", 2)[2] for line in out["scripts_log"].splitlines()
                if "LifecycleEvent" in line] == [
            *(["LifecycleEvent - ApplicationStop"] if deployment == 2 else []),
            "LifecycleEvent - BeforeInstall", "LifecycleEvent - AfterInstall"]


def test_options_state_dir_that_is_a_file_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    arc = _bundle(tmp_path, "")
    for given, message in ((tmp_path / "f", f"{tmp_path}/f: --state-dir must be a directory."),
                           (tmp_path / "f" / "sub", f"{tmp_path}/f/sub: --state-dir cannot be "
                            "created (Not a directory); give a directory verify may write.")):
        assert main(["verify", "--state-dir", str(given), str(arc)]) == 1
        assert capsys.readouterr().err == f"agentkit: error: {message}\n"


def test_options_agent_configuration_root_dir_is_where_hooks_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "codedeployagent.yml"
    conf.write_text(":log_dir: '/var/log/cd/'\n:root_dir: '/srv/cd-root'\n:max_revisions: 2\n")
    body = script('echo "$0"\n')
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: s/where.sh\n",
                  extra=(("s/where.sh", "file", body, 0o755),))
    code, out = verify(capsys, "--agent-configuration-file", str(conf), str(arc))
    assert code == 0
    assert stdout_of(out, "AfterInstall") == [
        f"/srv/cd-root/dg-verify/{out['deployment_id']}/deployment-archive/s/where.sh"]


def test_options_max_revisions_prunes_the_oldest_deployments(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "codedeployagent.yml"
    conf.write_text(":max_revisions: 2\n")
    state = tmp_path / "state"
    ids = []
    for _ in range(3):
        code, out = verify(capsys, "--state-dir", str(state), "--agent-configuration-file",
                           str(conf), str(_bundle(tmp_path, "")))
        assert code == 0
        ids.append(out["deployment_id"])
    assert (f"DownloadBundle deletes 1 earlier deployment(s) of this group, keeping "
            f":max_revisions: 2 with this one (never the last successful): {ids[0]}"
            ) in out["notes"]
    assert sorted(os.listdir(state / "deployment-root" / "dg-verify")) == sorted(ids[1:])


def test_options_agent_configuration_invalid_max_revisions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "codedeployagent.yml"
    conf.write_text(":max_revisions: 0\n")
    assert main(["verify", "--agent-configuration-file", str(conf),
                 str(_bundle(tmp_path, ""))]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {conf}: :max_revisions: 0 is not a whole number of at least 1; "
        "the agent logs \"Invalid configuration :max_revision=...\" and quits. Write e.g. "
        "`:max_revisions: 5`.")


@pytest.mark.parametrize(("location", "expected"), [
    ("s3://bucket/rel/app.tgz?versionId=v1&etag=abc",
     ["BUNDLE_BUCKET=bucket", "BUNDLE_ETAG=abc", "BUNDLE_KEY=rel/app.tgz",
      "BUNDLE_VERSION=v1"]),
    ("s3://bucket/app.tgz", ["BUNDLE_BUCKET=bucket", "BUNDLE_KEY=app.tgz"]),
    ("https://github.com/acme/shop", ["BUNDLE_COMMIT=HEAD"]),
    ("https://api.github.com/repos/acme/shop/tarball/0a1b2c", ["BUNDLE_COMMIT=0a1b2c"]),
])
def test_options_bundle_location_gives_hooks_the_bundle_variables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], location: str,
        expected: list[str]) -> None:
    body = script("env | grep '^BUNDLE_' | sort\n")
    arc = _bundle(tmp_path, "  AfterInstall:\n    - location: s/env.sh\n",
                  extra=(("s/env.sh", "file", body, 0o755),))
    code, out = verify(capsys, "--bundle-location", location, str(arc))
    assert code == 0
    assert stdout_of(out, "AfterInstall") == expected


def test_options_bundle_location_unknown_scheme(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--bundle-location", "ftp://x/y", str(_bundle(tmp_path, ""))]) == 1
    assert capsys.readouterr().err.strip() == (
        "agentkit: error: --bundle-location ftp://x/y: expected s3://BUCKET/KEY, "
        "https://github.com/OWNER/REPO or https://api.github.com/repos/OWNER/REPO/tarball/COMMIT.")


# --- --deployment-type blue-green ---------------------------------------------------------

ALL_HOOKS = "".join(f"  {name}:\n    - location: s/e.sh\n" for name in (
    "BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "BeforeInstall",
    "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic",
    "AfterAllowTraffic"))
NOTHING = "no earlier successful revision of this deployment group: nothing to run"


def test_options_blue_green_replacement_installs_then_allows_traffic(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, ALL_HOOKS)
    code, out = verify(capsys, "--deployment-type", "blue-green", str(arc))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert [(e["name"], e["status"]) for e in out["events"]] == [
        ("ApplicationStop", "succeeded"), ("DownloadBundle", "succeeded"),
        ("BeforeInstall", "succeeded"), ("Install", "succeeded"),
        ("AfterInstall", "succeeded"), ("ApplicationStart", "succeeded"),
        ("ValidateService", "succeeded"), ("BeforeAllowTraffic", "succeeded"),
        ("AfterAllowTraffic", "succeeded")]
    assert event(out, "ApplicationStop")["note"] == NOTHING
    assert stdout_of(out, "AfterAllowTraffic") == ["AfterAllowTraffic"]
    assert out["modelled"] == [
        "a blue/green deployment's replacement instance: launched new (no earlier revision), "
        "the install, then the AllowTraffic hooks (--instance original: what the original "
        "instances run)",
        "the instance's file system: this machine's / (--image: the instance's own)"]


def test_options_blue_green_original_runs_the_old_revision_s_block_traffic_hooks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tar(tmp_path / "old.tgz", [
        ("appspec.yml", "file", appspec(tmp_path / "app", ALL_HOOKS), 0o644),
        ("s/e.sh", "file", script('echo "old $LIFECYCLE_EVENT"\n'), 0o755)])
    new = _bundle(tmp_path, ALL_HOOKS, extra=(("only-new.txt", "file", "n", 0o644),))
    code, out = verify(capsys, "--deployment-type", "blue-green", "--instance", "original",
                       "--previous", str(old), str(new))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert [(e["name"], e["status"], e["revision"]) for e in out["events"]] == [
        ("BeforeBlockTraffic", "succeeded", "previous"),
        ("AfterBlockTraffic", "succeeded", "previous")]
    assert stdout_of(out, "BeforeBlockTraffic") == ["old BeforeBlockTraffic"]
    assert stdout_of(out, "AfterBlockTraffic") == ["old AfterBlockTraffic"]
    paths = {n["path"] for n in out["tree"]}
    assert f"{tmp_path}/app/s/e.sh" in paths  # the old revision's install
    assert f"{tmp_path}/app/only-new.txt" not in paths  # nothing of this one is installed
    assert out["modelled"] == [
        "a blue/green deployment's original instance: only the BlockTraffic hooks, from its "
        "last successful revision; this revision is not installed there",
        "the instance's file system: this machine's / (--image: the instance's own)"]


def test_options_blue_green_original_without_an_earlier_revision_runs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, "--deployment-type", "blue-green", "--instance", "original",
                       str(_bundle(tmp_path, ALL_HOOKS)))
    assert (code, out["result"]) == (0, "succeeded")
    assert [(e["name"], e["note"]) for e in out["events"]] == [
        ("BeforeBlockTraffic", NOTHING), ("AfterBlockTraffic", NOTHING)]
    assert out["tree"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--instance", "original"],
     "--instance original: only a blue/green deployment has replacement and original "
     "instances; add --deployment-type blue-green."),
    (["--deployment-type", "blue-green", "--events", "AfterInstall"],
     "--events with --deployment-type blue-green: the service runs a blue/green instance's "
     "events itself; give one or the other."),
    (["--deployment-type", "blue-green", "--no-load-balancer"],
     "--no-load-balancer with --deployment-type blue-green: a blue/green deployment shifts "
     "traffic with a load balancer; drop one of them."),
    (["--deployment-type", "blue-green", "--previous", "PREVIOUS"],
     "--previous with a blue/green replacement instance: it is launched new and has no "
     "earlier revision; add --instance original to see what the instances that have it run."),
])
def test_options_blue_green_contradictions_are_usage_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    arc = _bundle(tmp_path, "")
    args = [str(arc) if a == "PREVIOUS" else a for a in args]
    assert main(["verify", *args, str(arc)]) == 2
    assert capsys.readouterr().err.strip() == f"agentkit: error: {message}"


def test_options_blue_green_replacement_refuses_a_state_dir_with_a_revision(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    assert main(["verify", "--hooks", "skip", "--state-dir", str(state),
                 str(_bundle(tmp_path, ""))]) == 0
    capsys.readouterr()
    assert main(["verify", "--deployment-type", "blue-green", "--state-dir", str(state),
                 str(_bundle(tmp_path, ""))]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {state} holds an earlier revision of deployment group dg-verify, "
        "but a blue/green replacement instance is launched new, with none: verify it without "
        "--previous and with a fresh --state-dir (or none), or use --instance original for "
        "what the instances that have that revision run.")


def test_options_show_makes_a_hidden_directory_visible_to_hooks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # verify's TMPDIR (pytest's tmp_path is below it) is hidden from hooks by default
    seen = tmp_path / "job-work"
    seen.mkdir()
    (seen / "marker").write_text("here\n")
    hook = "  AfterInstall:\n    - location: s/look.sh\n"
    arc = _bundle(tmp_path, hook, extra=(
        ("s/look.sh", "file", script(f"cat {seen}/marker\n"), 0o755),))
    code, out = verify(capsys, str(arc))
    assert (code, out["failed_event"]) == (1, "AfterInstall")
    code, out = verify(capsys, "--show", str(seen), "--max-memory", "1G", str(arc))
    assert (code, out["failed_event"]) == (0, None), out["error"]
    assert stdout_of(out, "AfterInstall") == ["here"]
