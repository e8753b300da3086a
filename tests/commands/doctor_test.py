"""agentkit doctor on a scratch instance (--root): real files, a real agent process (by its
name), a real IMDSv2 server and endpoints on 127.0.0.1."""

from __future__ import annotations

import email.utils
import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agentkit.cli import main

ROOT_DIR = "/opt/codedeploy-agent/deployment-root"


class _Imds(http.server.BaseHTTPRequestHandler):
    """IMDSv2 as EC2 speaks it: a PUT for a token, GETs that need it."""

    refuse = False
    token = "AQAEAtok"
    offset = 0.0  # how far the service's clock is from this one

    def do_PUT(self) -> None:
        if self.path != "/latest/api/token" or self.refuse or \
                "X-aws-ec2-metadata-token-ttl-seconds" not in self.headers:
            self._send(403, "")
            return
        self._send(200, self.token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            self._send(401, "")
            return
        answers = {"/latest/meta-data/iam/security-credentials/": "shop-role",
                   "/latest/meta-data/iam/security-credentials/shop-role": json.dumps(
                       {"Code": "Success", "Expiration": "2026-12-04T23:00:00Z"}),
                   "/latest/meta-data/placement/region": "us-test-1"}
        self._send(200 if self.path in answers else 404, answers.get(self.path, ""))

    def do_HEAD(self) -> None:
        self._send(403, "")

    def _send(self, code: int, body: str) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header send_response writes, by this service's clock."""
        return email.utils.formatdate(time.time() + self.offset, usegmt=True)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[tuple[str, type[_Imds]]]:
    handler = type("Imds", (_Imds,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def agent_process() -> Iterator[int]:
    """A process named as the agent's master is (its pid file points at it)."""
    proc = subprocess.Popen(["bash", "-c", 'exec -a "codedeploy-agent: master" sleep 60'])
    time.sleep(0.1)
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _write(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _instance(root: Path, pid: int, revisions: int = 3, shared: str = "none") -> None:
    _write(root, "/opt/codedeploy-agent/.version", "agent_version: OFFICIAL_1.8.1-2_deb\n")
    _write(root, "/etc/codedeploy-agent/conf/codedeployagent.yml",
           f":log_dir: '/var/log/aws/codedeploy-agent/'\n:pid_dir: '/opt/codedeploy-agent/"
           f"state/.pid/'\n:program_name: codedeploy-agent\n:root_dir: '{ROOT_DIR}'\n"
           ":max_revisions: 5\n:proxy_uri:\n")
    _write(root, "/opt/codedeploy-agent/state/.pid/codedeploy-agent.pid", f"{pid}\n")
    for n in range(revisions):
        archive = root / f"{ROOT_DIR.lstrip('/')}/dg-1/d-00000000{n}/deployment-archive"
        archive.mkdir(parents=True)
        (archive / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    share = root / "efs"
    share.mkdir()
    _write(root, f"{ROOT_DIR}/dg-1/d-00000000{revisions - 1}/deployment-archive/agentkit.yml",
           f"version: 1\nrelease: /srv/app\nshared:\n  root: /efs\n  require_mount: {shared}\n"
           "  dirs: [media]\nhealth:\n  file: /srv/app/health.html\n")
    _write(root, "/srv/app/health.html", "OK\n")
    _write(root, f"{ROOT_DIR}/deployment-logs/codedeploy-agent-deployments.log",
           "".join(f"I, [2026-12-04T10:00:0{i}] INFO -- : [d-000000002]LifecycleEvent - {e}\n"
                   for i, e in enumerate(("ApplicationStop", "AfterInstall",
                                          "ValidateService"))))


def _doctor(capsys: pytest.CaptureFixture[str], root: Path, url: str,
            *extra: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--root", str(root), "--imds-endpoint", url, "--endpoint",
                 f"codedeploy={url}", "--endpoint", f"s3={url}", *extra])
    return code, capsys.readouterr().out.splitlines()


def test_doctor_healthy_instance_is_all_green(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], imds: tuple[str, Any],
        agent_process: int) -> None:
    url, _ = imds
    _instance(tmp_path, agent_process)
    # an earlier deployment's failure is not the last deployment's
    _write(tmp_path, "/var/log/aws/codedeploy-agent/codedeploy-agent.log",
           "2026-12-03T10:00:09 ERROR [codedeploy-agent(1)]: Error during perform: Script at "
           "specified location: scripts/old.sh failed with exit code 1 - [d-000000001]\n")
    code, lines = _doctor(capsys, tmp_path, url)
    assert code == 0, "\n".join(lines)
    assert lines[:5] == [
        "\u2713 agent installed: OFFICIAL_1.8.1-2_deb (the Ruby agent 1.x; verify --agent 1 "
        "models it)",
        f"\u2713 agent running: pid {agent_process} (codedeploy-agent: master 60)",
        f"\u2713 agent config: /etc/codedeploy-agent/conf/codedeployagent.yml: root_dir "
        f"{ROOT_DIR}, max_revisions 5, proxy none",
        f"\u2713 deployment root: {ROOT_DIR}: 3 revision(s) in 1 group(s), 0.0 MB "
        "(max_revisions 5)",
        "\u2713 last deployment: d-000000002: ApplicationStop, AfterInstall, ValidateService"]
    assert "\u2713 shared mount: /efs on / (" in "\n".join(lines)
    assert "\u2713 health file: /srv/app/health.html is there: the load balancer sees this " \
           "instance healthy" in lines
    assert f"\u2713 instance metadata: {url}: IMDSv2 token granted" in lines
    assert "\u2713 instance profile: role shop-role, credentials until 2026-12-04T23:00:00Z" \
           in lines
    assert f"\u2713 codedeploy endpoint: {url} answers (HTTP 403)" in lines
    assert lines[-1] == "0 problem(s), 0 warning(s)"
    assert main(["doctor", "--root", str(tmp_path), "--imds-endpoint", url, "--endpoint",
                 f"s3={url}", "--endpoint", f"codedeploy={url}", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {c["status"] for c in report["checks"]} == {"ok"}


def test_doctor_broken_instance_names_each_problem_and_its_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], imds: tuple[str, Any]) -> None:
    url, handler = imds
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs: the agent was stopped or died
    _instance(tmp_path, dead.pid, revisions=9, shared="nfs4")
    handler.refuse = True
    _write(tmp_path, "/var/log/aws/codedeploy-agent/codedeploy-agent.log",
           "2026-12-04T10:00:09 ERROR [codedeploy-agent(1)]: InstanceAgent::Plugins::"
           "CodeDeployPlugin::CommandPoller: Error during perform: RuntimeError - Script at "
           "specified location: scripts/migrate.sh failed with exit code 3 - [d-000000002]\n")
    _write(tmp_path, f"{ROOT_DIR}/dg-1/d-000000002/logs/scripts.log",
           "2026-12-04 10:00:08 LifecycleEvent - AfterInstall\n2026-12-04 10:00:08 Script - "
           "scripts/migrate.sh\n2026-12-04 10:00:09 [stderr]migration 42 failed\n")
    code, lines = _doctor(capsys, tmp_path, url)
    assert code == 1
    text = "\n".join(lines)
    assert (f"\u2717 agent running: not running: /opt/codedeploy-agent/state/.pid/"
            f"codedeploy-agent.pid names pid {dead.pid}, which is gone (the agent died or was "
            "killed)\n    fix: sudo systemctl start codedeploy-agent (then see its log: "
            "journalctl -u codedeploy-agent)") in text
    assert (f"\u2717 deployment root: {ROOT_DIR}: 9 revision(s) in 1 group(s), 0.0 MB; group "
            "dg-1 holds 9 revisions, over max_revisions 5: the agent's cleanup is failing"
            ) in text
    assert ("\u2717 last deployment: d-000000002: ApplicationStop, AfterInstall, "
            "ValidateService; Script at specified location: scripts/migrate.sh failed with "
            "exit code 3 - [d-000000002]\n    fix: fix the script (verify the bundle with "
            "agentkit verify), then redeploy") in text
    assert "    | 2026-12-04 10:00:09 [stderr]migration 42 failed" in lines
    assert (f"\u2717 instance metadata: {url} refused an IMDSv2 token (HTTP 403): the agent "
            "gets no credentials\n    fix: allow IMDSv2 tokens (http-tokens "
            "optional|required); from a container raise http-put-response-hop-limit to 2"
            ) in text
    shared = next(line for line in lines if "shared mount" in line)
    assert shared.startswith("\u2717 shared mount: /efs on / (") and shared.endswith(
        "requires nfs4: link-shared refuses to create anything")
    assert lines[-1].startswith("5 problem(s)")


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy's answer to `HEAD http://host/...`: what it was asked is kept."""

    asked: ClassVar[list[str]] = []

    def do_HEAD(self) -> None:
        self.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_doctor_endpoints_are_tried_through_the_agents_proxy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], imds: tuple[str, Any],
        agent_process: int, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = imds
    handler = type("Proxy", (_Proxy,), {"asked": []})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        _instance(tmp_path, agent_process)
        conf = tmp_path / "etc/codedeploy-agent/conf/codedeployagent.yml"
        conf.write_text(conf.read_text().replace(":proxy_uri:", f":proxy_uri: {proxy_url}"))
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the shell's: not the agent's
        code = main(["doctor", "--root", str(tmp_path), "--imds-endpoint", url, "--endpoint",
                     "codedeploy=http://codedeploy.example.invalid/", "--endpoint",
                     "s3=http://s3.example.invalid/"])
        lines = capsys.readouterr().out.splitlines()
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert code == 0, "\n".join(lines)
    assert (f"\u2713 codedeploy endpoint: http://codedeploy.example.invalid/ answers through "
            f"{proxy_url} (HTTP 200)") in lines
    assert sorted(handler.asked) == ["http://codedeploy.example.invalid/",
                                     "http://s3.example.invalid/"]


def test_doctor_clock_far_from_the_metadata_services_is_a_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], imds: tuple[str, Any],
        agent_process: int) -> None:
    url, handler = imds
    handler.offset = -600.0
    _instance(tmp_path, agent_process)
    code, lines = _doctor(capsys, tmp_path, url)
    assert code == 1, "\n".join(lines)
    [clock] = [line for line in lines if line[2:].startswith("clock:")]
    assert clock.startswith("\u2717 clock: 6") and clock.endswith(
        " s ahead of the metadata service: AWS refuses requests signed that far off")


def test_doctor_last_failed_deployment_gets_its_diagnosis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], imds: tuple[str, Any]) -> None:
    url, _handler = imds
    _instance(tmp_path, os.getpid())
    _write(tmp_path, "/var/log/aws/codedeploy-agent/codedeploy-agent.log",
           "2026-12-04T10:00:09 ERROR [codedeploy-agent(1)]: InstanceAgent::Plugins::"
           "CodeDeployPlugin::CommandPoller: Error during perform: RuntimeError - Script at "
           "specified location: scripts/start.sh run as user ec2-user failed with exit code "
           "127 - [d-000000002]\n")
    _write(tmp_path, f"{ROOT_DIR}/dg-1/d-000000002/logs/scripts.log",
           "2026-12-04 10:00:08 LifecycleEvent - ApplicationStart\n2026-12-04 10:00:08 Script - "
           "scripts/start.sh\n2026-12-04 10:00:09 [stderr]/opt/codedeploy-agent/deployment-root/"
           "dg-1/d-000000002/deployment-archive/scripts/start.sh: line 3: pm2: command not "
           "found\n")
    code, lines = _doctor(capsys, tmp_path, url)
    assert code == 1
    at = lines.index("    | AK800 command-not-found")
    assert lines[at + 1].startswith("    |   cause: `pm2` is not on the PATH the hook runs with")
    assert lines[at + 2].startswith("    |   fix: Call it by its full path (`command -v pm2`")
