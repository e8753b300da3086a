"""Services in verify's box: `systemctl` and `service` run units read from the lower layer
(this machine's /), a service started in one event serves the later ones, and every
service ends with the deployment. nginx is what real bundles restart most; a unit the bundle
installs shows User= and Type=simple."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentkit.cli import main
from agentkit.verify import box_programs, hookbox

from ..archives import script, tar
from ..boxes import determined, needs_runas
from ..image_fixture import image_with_unit, make_image

pytestmark = pytest.mark.skipif(hookbox.unavailable() is not None,
                                reason=f"no hook sandbox here: {hookbox.unavailable()}")
needs_nginx = pytest.mark.skipif(
    shutil.which("nginx", path="/usr/sbin:/usr/bin") is None or
    not os.path.exists("/lib/systemd/system/nginx.service"),
    reason="nginx and its unit are not installed here (.ci/run installs them)")
JOB_FAILED = ("Job for nginx.service failed because the control process exited with "
              "error code.")


def _bundle(tmp: Path, start: str, check: str = "curl -fsS http://127.0.0.1/health.html\n",
            extra: list[Any] | None = None) -> Path:
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: "
            "/var/www/html\nfile_exists_behavior: OVERWRITE\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n      timeout: 60\n  ValidateService:\n"
            "    - location: check.sh\n      timeout: 60\n")
    return tar(tmp / "b.tgz", [("appspec.yml", "file", spec, 0o644),
                               ("site/health.html", "file", "OK\n", 0o644),
                               ("start.sh", "file", script(start), 0o755),
                               ("check.sh", "file", script(check), 0o755), *(extra or [])])


def _verify(capsys: pytest.CaptureFixture[str], archive: Path,
            *options: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--format", "json", *options, str(archive)])
    return code, json.loads(capsys.readouterr().out)


def _output(out: dict[str, Any], event: str) -> list[str]:
    found = next(e for e in out["events"] if e["name"] == event)
    return [o["line"] for s in found["scripts"] for o in s["output"]]


def _no_nginx_on_the_host() -> bool:
    return not any(p.info["name"] == "nginx" for p in psutil.process_iter(["name"]))


@needs_nginx
@pytest.mark.parametrize("start", ["set -e\nsystemctl restart nginx\nsystemctl enable nginx\n"
                                   "systemctl is-active nginx\n",
                                   "set -e\nservice nginx restart\n"])
def test_services_nginx_restarted_serves_validate_service(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str) -> None:
    wants = "/etc/systemd/system/multi-user.target.wants/nginx.service"
    enabled_here = os.path.lexists(wants)  # Debian's package enables it when installed
    code, out = _verify(capsys, _bundle(tmp_path, start))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _output(out, "ValidateService") == ["OK"]
    [nginx] = out["services"]
    assert (nginx["unit"], nginx["state"]) == ("nginx.service", "active")
    assert out["findings"] == []  # forking nginx listens once its start returns: no AK703
    assert nginx["listening_at_validate"] == nginx["listening"] != []
    # the first of the search path that has it (a merged /usr: both are one file)
    unit_file = nginx["unit_file"]
    assert unit_file in ("/usr/lib/systemd/system/nginx.service",
                         "/lib/systemd/system/nginx.service")
    actions = [(a["event"], a["action"], a["result"]) for a in nginx["actions"]]
    if "enable" in start:
        assert _output(out, "ApplicationStart") == ["active"]
        assert actions == [("ApplicationStart", "restart", "done"),
                           ("ApplicationStart", "enable", "done")]
        assert nginx["enabled"] == "enabled"
        changes = {c["path"]: c for c in out["changes"]}
        if not enabled_here:  # enable made the link, in the box only
            link = changes[wants]
            assert (link["type"], link["target"]) == ("symlink", unit_file)
        else:
            assert wants not in changes
    else:
        assert actions == [("ApplicationStart", "restart", "done")]
    assert _no_nginx_on_the_host()
    assert os.path.lexists(wants) == enabled_here


def test_services_restart_of_a_missing_unit_fails_with_systemds_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(capsys, _bundle(tmp_path, "systemctl restart agentkit-nosuch\n"))
    assert (code, out["failed_event"]) == (1, "ApplicationStart")
    assert _output(out, "ApplicationStart") == [
        "Failed to restart agentkit-nosuch.service: Unit agentkit-nosuch.service not found."]
    assert out["error"]["message"] == ("Script at specified location: start.sh failed with "
                                       "exit code 5")


@needs_nginx
def test_services_broken_nginx_site_fails_application_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = ("files/broken", "file", "server { listen 80; this_is_no_directive; }\n", 0o644)
    install = "cp files/broken /etc/nginx/sites-enabled/broken\nsystemctl restart nginx\n"
    arc = _bundle(tmp_path, f'cd "$(dirname "$0")"\n{install}', extra=[site])
    code, out = _verify(capsys, arc)
    assert (code, out["failed_event"]) == (1, "ApplicationStart")
    assert _output(out, "ApplicationStart") == [
        JOB_FAILED, 'See "systemctl status nginx.service" and "journalctl -xeu '
        'nginx.service" for details.']
    [nginx] = out["services"]
    assert nginx["state"] == "failed"
    assert any('unknown directive "this_is_no_directive"' in line for line in nginx["log"])
    assert _no_nginx_on_the_host()


@needs_nginx
def test_services_validate_service_of_a_missing_page_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "service nginx start\n",
                  check="curl -fsS http://127.0.0.1/missing.html\n")
    code, out = _verify(capsys, arc)
    assert (code, out["failed_event"]) == (1, "ValidateService")
    assert out["error"]["message"] == ("Script at specified location: check.sh failed with "
                                       "exit code 22")
    assert out["services"][0]["state"] == "active"  # it ran until the deployment ended
    assert _no_nginx_on_the_host()


def test_services_unit_from_the_bundle_runs_as_its_user(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = ("[Unit]\nDescription=agentkit test app\n[Service]\nType=simple\nUser=www-data\n"
            "Environment=GREETING=hello\nWorkingDirectory=/tmp\n"
            "ExecStartPre=/bin/sh -c 'echo pre $$GREETING'\n"
            "ExecStart=/bin/sh -c 'id -un > /tmp/agentkit-app-user; echo $GREETING; "
            "exec sleep 60'\n[Install]\nWantedBy=multi-user.target\n")
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: agentkit-app.service\n"
            "    destination: /etc/systemd/system\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n  ValidateService:\n    - location: check.sh\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("agentkit-app.service", "file", unit, 0o644),
        ("start.sh", "file", script("systemctl daemon-reload\nsystemctl enable --now "
                                    "agentkit-app\n"), 0o755),
        ("check.sh", "file", script("sleep 0.2\ncat /tmp/agentkit-app-user\n"
                                    "systemctl is-active agentkit-app\n"
                                    "systemctl stop agentkit-app\n"
                                    "systemctl is-active agentkit-app || echo stopped $?\n"),
         0o755)])
    code, out = _verify(capsys, arc)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _output(out, "ValidateService") == ["www-data", "active", "inactive", "stopped 3"]
    [app] = out["services"]
    assert (app["state"], app["enabled"]) == ("inactive", "enabled")
    assert app["log"] == ["pre hello", "hello"]
    assert [a["action"] for a in app["actions"]] == ["enable --now", "stop"]


@needs_runas
def test_services_forking_and_oneshot_units_and_a_plain_users_systemctl(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        runas_users: tuple[str, ...]) -> None:
    once = ("[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/echo once\n")
    fork = ("[Unit]\nDescription=agentkit forking test\n[Service]\nType=forking\n"
            "PIDFile=/run/agentkit-fork.pid\n"
            "ExecStart=/bin/sh -c 'sleep 60 & echo $! > /run/agentkit-fork.pid'\n")
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: units\n"
            "    destination: /etc/systemd/system\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n  ValidateService:\n    - location: check.sh\n"
            f"      runas: {runas_users[0]}\n")
    start = ("systemctl start agentkit-once agentkit-fork\n"
             "systemctl is-active agentkit-once agentkit-fork\n"
             "systemctl status agentkit-fork > /dev/null; echo status $?\n"
             "systemctl stop agentkit-fork\n"
             "systemctl status agentkit-fork > /dev/null || echo stopped $?\n"
             "systemctl start agentkit-fork\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644),
        ("units/agentkit-once.service", "file", once, 0o644),
        ("units/agentkit-fork.service", "file", fork, 0o644),
        ("start.sh", "file", script(start), 0o755),
        ("check.sh", "file", script("systemctl is-active agentkit-fork\n"
                                    "systemctl restart agentkit-fork\n"), 0o755)])
    code, out = _verify(capsys, arc)
    determined(out)
    assert (code, out["failed_event"]) == (1, "ValidateService")
    assert _output(out, "ApplicationStart") == ["active", "active", "status 0", "stopped 3"]
    assert _output(out, "ValidateService") == [
        "active", "Failed to restart agentkit-fork.service: Interactive authentication "
        "required.", "See system logs and 'systemctl status agentkit-fork.service' for "
        "details."]
    fork, once = out["services"]
    assert (fork["state"], once["state"], once["log"]) == ("active", "active", ["once"])
    assert main(["verify", str(arc)]) == 1
    text = capsys.readouterr().out
    assert ("services (run by verify's systemctl in the box, as systemd on the instance):\n"
            "  agentkit-fork.service    active    static  ApplicationStart: start, "
            "ApplicationStart: stop, ApplicationStart: start\n"
            "  agentkit-once.service    active    static  ApplicationStart: start\n") in text


@needs_runas
def test_services_with_an_image_run_on_the_image_s_python(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # User= is a user only the image has (uid 1234): the unit runs as it
    img = image_with_unit(
        tmp_path / "img", "/usr/lib/systemd/system/imageapp.service",
        "[Service]\nUser=imageonly\nExecStart=/bin/sh -c 'cat /proc/self/status "
        "> /tmp/agentkit-status; exec /usr/bin/sleep 60'\n")
    spec = ("version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh\n")
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", spec, 0o644), (
        "start.sh", "file", script(
            "systemctl start imageapp\nsystemctl is-active imageapp\n"
            "systemctl is-active nginx || echo no nginx $?\n"
            "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /tmp/agentkit-status ] && break; "
            "sleep 0.1; done\n"
            "while read -r key value rest; do [ \"$key\" = Uid: ] && echo \"uid $value\"; "
            "done < /tmp/agentkit-status; true\n"), 0o755)])
    code, out = _verify(capsys, arc, "--image", str(img))
    determined(out)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _output(out, "ApplicationStart") == ["active", "inactive", "no nginx 3", "uid 1234"]
    [app] = out["services"]
    assert (app["unit"], app["unit_file"], app["state"]) == (
        "imageapp.service", "/usr/lib/systemd/system/imageapp.service", "active")


def test_services_image_without_python_says_why_systemctl_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_image(tmp_path / "img")
    spec = ("version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh\n")
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", spec, 0o644),
                                   ("start.sh", "file", script("systemctl start app\n"), 0o755)])
    code, out = _verify(capsys, arc, "--image", str(img))
    assert (code, out["failed_event"]) == (1, "ApplicationStart")
    assert ("no python3 for the box's systemctl (none that every user may run among "
            "/usr/bin/python3, /usr/local/bin/python3, /usr/libexec/platform-python): hooks "
            "that call systemctl or service fail in the box") in out["notes"]
    assert out["error"]["message"] == ("Script at specified location: start.sh failed with "
                                       "exit code 127")


def _unit_bundle(tmp: Path, unit: str, start: str, check: str | None = None) -> Path:
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: agentkit-app.service\n"
            "    destination: /etc/systemd/system\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n")
    members: list[Any] = [("agentkit-app.service", "file", unit, 0o644),
                          ("start.sh", "file", script(start), 0o755)]
    if check is not None:
        spec += "  ValidateService:\n    - location: check.sh\n"
        members.append(("check.sh", "file", script(check), 0o755))
    return tar(tmp / "b.tgz", [("appspec.yml", "file", spec, 0o644), *members])


def _findings(out: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["code"], f["path"], f["message"]) for f in out["findings"]]


APP = ("[Service]\nExecStart=/bin/sleep 60\n[Install]\nWantedBy=multi-user.target\n")


def test_services_enabled_but_never_started_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(capsys, _unit_bundle(tmp_path, APP, "systemctl enable agentkit-app\n",
                                             check="true\n"))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _findings(out) == [(
        "AK700", "agentkit-app.service", "ApplicationStart enables agentkit-app.service but "
        "no hook starts it: the instance runs it only after its next boot")]


def test_services_restart_of_a_missing_unit_that_the_hook_ignores_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(capsys, _unit_bundle(
        tmp_path, APP, "systemctl restart agentkit-nosuch || true\nsystemctl start agentkit-app\n",
        check="systemctl is-active agentkit-app\n"))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _findings(out) == [(
        "AK701", "agentkit-nosuch.service", "ApplicationStart: `systemctl restart "
        "agentkit-nosuch.service`: this machine (the instance's stand-in) has no unit "
        "agentkit-nosuch.service (systemctl exits 5)")]


def test_services_started_without_validate_service_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(capsys, _unit_bundle(tmp_path, APP, "systemctl start agentkit-app\n"))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    assert _findings(out) == [(
        "AK702", "appspec.yml", "hooks start agentkit-app.service but ValidateService runs no "
        "script: the deployment succeeds whether it serves or not")]


WAITS = {  # how ValidateService waits for the service: a fixed sleep races its start
    "sleep": "sleep 2\ncurl -fsS -o /dev/null http://127.0.0.1:{port}/\n",
    "loop": ("for i in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:{port}/ "
             "2>/dev/null && break; sleep 0.05; done\n"),
    "curl --retry": ("curl -fsS -o /dev/null --retry 40 --retry-connrefused --retry-delay 1 "
                     "http://127.0.0.1:{port}/\n"),
}


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_services_not_yet_listening_when_validate_service_begins_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], wait: str) -> None:
    # the warning is for a check that runs once; one that retries by itself (a loop, curl's
    # --retry, agentkit hook validate) waits as long as the service needs (issue 30)
    port = 20000 + os.getpid() % 20000
    unit = ("[Service]\nUser=www-data\nRuntimeDirectory=agentkit-app\nRestart=always\n"
            "PrivateTmp=yes\nExecStart=/bin/sh -c 'echo $$$$ > /run/agentkit-app/pid; "
            f"sleep 0.5; exec python3 -m http.server {port} --bind 127.0.0.1'\n")
    check = (WAITS[wait].format(port=port) + "stat -c '%U %a' /run/agentkit-app\n"
             "test -s /run/agentkit-app/pid && echo pid written\n")
    code, out = _verify(capsys, _unit_bundle(tmp_path, unit, "systemctl start agentkit-app\n",
                                             check=check))
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    said = [line for line in _output(out, "ValidateService")
            if not line.startswith(("curl: ", "Warning: "))]  # curl's word on each retry
    assert said == ["www-data 755", "pid written"]
    assert _findings(out) == ([] if wait != "sleep" else [(
        "AK703", "agentkit-app.service", "agentkit-app.service (started in ApplicationStart) "
        "was not yet listening when ValidateService began; it listened on "
        f"127.0.0.1:{port} later. The agent does not wait for it: a check that runs at once "
        "can fail on the instance")])
    assert ("agentkit-app.service: the box ignores PrivateTmp=, Restart= (not modelled: the "
            "service runs without them)") in out["notes"]
    [app] = out["services"]
    assert (app["listening_at_validate"], app["listening"]) == ([], [f"127.0.0.1:{port}"])


@pytest.mark.parametrize("target", ["/usr/bin/python3.11", "../../../../../usr/bin/python3.11"])
def test_services_box_python_of_an_image_follows_its_links_inside_it(
        tmp_path: Path, target: str) -> None:
    # the image sits in a private directory (pytest's, 0700): only its own tree counts, and
    # its absolute links point into it, as they do in the box
    img = tmp_path / "private" / "img"
    (img / "usr/bin").mkdir(parents=True)
    (img / "usr/bin/python3.11").write_text("")
    os.chmod(img / "usr/bin/python3.11", 0o755)
    os.symlink(target, img / "usr/bin/python3")
    os.chmod(tmp_path / "private", 0o700)
    assert box_programs.box_python(str(img)) == "/usr/bin/python3"
    os.chmod(img / "usr/bin", 0o750)  # a runas user could not get there
    assert box_programs.box_python(str(img)) is None


def test_services_unit_with_a_missing_user_or_environment_file_fails_its_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = ("[Service]\nUser=agentkit-no-such-user\nExecStart=/bin/sleep 60\n")
    code, out = _verify(capsys, _unit_bundle(tmp_path, unit, "systemctl start agentkit-app\n"))
    assert (code, out["failed_event"]) == (1, "ApplicationStart")
    assert _output(out, "ApplicationStart") == [
        "Job for agentkit-app.service failed because the control process exited with error "
        "code.", 'See "systemctl status agentkit-app.service" and "journalctl -xeu '
        'agentkit-app.service" for details.']
    [app] = out["services"]
    assert app["state"] == "failed"
    assert app["log"] == ["agentkit-systemd: agentkit-app.service: \"getpwnam(): name not "
                          "found: 'agentkit-no-such-user'\""]


SYSTEMD_ANSWERS = """\
t() { "$@" 2>&1; echo "[$*] $?"; }
t systemctl stop ak-nosuch
t systemctl condrestart ak-nosuch
t systemctl mask ak-m
t systemctl try-restart ak-m
t systemctl force-reload ak-m
t systemctl start ak-m
t systemctl stop ak-m
t systemctl status ak-m
t systemctl is-enabled ak-m
t systemctl enable ak-m
t systemctl disable ak-m
t systemctl unmask ak-m
t systemctl disable ak-nosuch
t systemctl reload ak-oneshot
t systemctl start ak-oneshot
t systemctl is-failed ak-oneshot
t systemctl status ak-oneshot
t systemctl start ak-simple
sleep 0.3
t systemctl is-active ak-simple
t systemctl force-reload ak-sleep
t systemctl is-active ak-sleep
t systemctl status ak-sleep
"""


def test_services_answer_as_systemd_does(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # issue 29: each line's words and exit status are systemd 252's
    units = {"ak-simple": "[Service]\nType=simple\nExecStart=/nonexistent/bin/app\n",
             "ak-oneshot": "[Unit]\nDescription=ak once\n[Service]\nType=oneshot\n"
                           "ExecStart=/bin/false\n",
             "ak-sleep": "[Service]\nExecStart=/bin/sleep 60\nExecReload=/bin/true\n"}
    spec = ("version: 0.0\nos: linux\nfiles:\n  - source: units\n"
            "    destination: /etc/systemd/system\nhooks:\n  ApplicationStart:\n"
            "    - location: start.sh\n")
    arc = tar(tmp_path / "b.tgz", [
        ("appspec.yml", "file", spec, 0o644), ("start.sh", "file", script(SYSTEMD_ANSWERS),
                                               0o755),
        *((f"units/{n}.service", "file", text, 0o644) for n, text in units.items())])
    code, out = _verify(capsys, arc)
    assert (code, out["result"]) == (0, "succeeded"), out["error"]
    masked = "/etc/systemd/system/ak-m.service"
    assert _output(out, "ApplicationStart") == [
        # src/core/dbus-unit.c bus_unit_queue_job_one(): a stop of an unloaded unit
        "Failed to stop ak-nosuch.service: Unit ak-nosuch.service not loaded.",
        "[systemctl stop ak-nosuch] 5",
        # src/systemctl/systemctl-start-unit.c: the alias is named by its job
        "Failed to try-restart ak-nosuch.service: Unit ak-nosuch.service not found.",
        "[systemctl condrestart ak-nosuch] 5",
        # src/systemctl/systemctl-enable.c: mask checks unit_exists() first
        "Unit ak-m.service does not exist, proceeding anyway.",
        f"Created symlink {masked} \u2192 /dev/null.", "[systemctl mask ak-m] 0",
        # start_unit_one(): the try- jobs ignore a masked unit; force-reload is one of them
        "[systemctl try-restart ak-m] 0", "[systemctl force-reload ak-m] 0",
        "Failed to start ak-m.service: Unit ak-m.service is masked.",
        "[systemctl start ak-m] 1",
        "[systemctl stop ak-m] 0",
        "\u25cb ak-m.service", "     Loaded: masked (Reason: Unit ak-m.service is masked.)",
        "     Active: inactive (dead)", "[systemctl status ak-m] 3",
        "masked", "[systemctl is-enabled ak-m] 1",
        # src/shared/install.c: enable refuses the masked file, disable skips it
        f"Failed to enable unit: Unit file {masked} is masked.", "[systemctl enable ak-m] 1",
        f"Unit {masked} is masked, ignoring.", "[systemctl disable ak-m] 0",
        f'Removed "{masked}".', "[systemctl unmask ak-m] 0",
        "Failed to disable unit: Unit file ak-nosuch.service does not exist.",
        "[systemctl disable ak-nosuch] 1",
        # JOB_TYPE_NOT_APPLICABLE is EXIT_NOTIMPLEMENTED (src/systemctl/systemctl-util.c)
        "Failed to reload ak-oneshot.service: Job type reload is not applicable for unit "
        "ak-oneshot.service.", "[systemctl reload ak-oneshot] 3",
        "Job for ak-oneshot.service failed because the control process exited with error "
        "code.", 'See "systemctl status ak-oneshot.service" and "journalctl -xeu '
        'ak-oneshot.service" for details.', "[systemctl start ak-oneshot] 1",
        "failed", "[systemctl is-failed ak-oneshot] 0",
        # src/systemctl/systemctl-show.c print_status_info(): the failed glyph
        "\u00d7 ak-oneshot.service - ak once",
        "     Loaded: loaded (/etc/systemd/system/ak-oneshot.service; static)",
        "     Active: failed (Result: exit-code)",
        "",
        "agentkit-systemd: ak-oneshot.service: ExecStart=/bin/false exited with status 1",
        "[systemctl status ak-oneshot] 3",
        # Type=simple: the start is done once the main process is forked
        "[systemctl start ak-simple] 0", "failed", "[systemctl is-active ak-simple] 3",
        # reload-or-try-restart of an inactive unit: nothing to do
        "[systemctl force-reload ak-sleep] 0", "inactive", "[systemctl is-active ak-sleep] 3",
        "\u25cb ak-sleep.service",
        "     Loaded: loaded (/etc/systemd/system/ak-sleep.service; static)",
        "     Active: inactive (dead)", "[systemctl status ak-sleep] 3"]
