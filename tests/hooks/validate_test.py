"""validate against real HTTP servers on 127.0.0.1: healthy, unhealthy, slow, late."""

from __future__ import annotations

import http.server
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import validate
from agentkit.hooks.config import Config

MakeConfig = Callable[[str], Config]


class Behaviour:
    def __init__(self) -> None:
        self.status = 200
        self.body = "OK"
        self.delay = 0.0
        self.healthy_after = 0.0
        self.started = time.monotonic()


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(behaviour.delay)
            late = time.monotonic() - behaviour.started < behaviour.healthy_after
            status = 503 if late else behaviour.status
            body = behaviour.body.encode()
            self.send_response(status)
            self.send_header("X-App", "shop/1.2")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/health", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cfg(make: MakeConfig, url: str, extra: str = "") -> Config:
    return make(f"version: 1\nvalidate:\n  url: {url}\n  timeout: 0.5\n  deadline: 2\n{extra}")


def test_validate_healthy_passes_first_try(make_config: MakeConfig, log: Any,
                                           captured: list[dict[str, Any]],
                                           server: tuple[str, Behaviour]) -> None:
    url, _ = server
    validate.run(_cfg(make_config, url, "  body: '^OK$'\n  headers: {X-App: '^shop/'}\n"), log)
    assert captured[-1]["event"] == "validate passed" and captured[-1]["attempt"] == 1


def test_validate_unhealthy_fails_with_last_problem(make_config: MakeConfig, log: Any,
                                                    server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    behaviour.status = 500
    start = time.monotonic()
    with pytest.raises(HookFailed) as exc:
        validate.run(_cfg(make_config, url), log)
    assert time.monotonic() - start <= 2.5
    assert str(exc.value).endswith("status 500, expected 200")
    assert str(exc.value).startswith("validate failed after ")


def test_validate_late_service_passes_after_retries(make_config: MakeConfig, log: Any,
                                                    captured: list[dict[str, Any]],
                                                    server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    behaviour.healthy_after = 1.2
    behaviour.started = time.monotonic()
    validate.run(_cfg(make_config, url), log)
    tries = [e for e in captured if e["event"] == "validate try failed"]
    assert tries and tries[0]["problem"] == "status 503, expected 200"
    assert captured[-1]["event"] == "validate passed"


def test_validate_slow_service_times_out(make_config: MakeConfig, log: Any,
                                         server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    behaviour.delay = 1.0
    with pytest.raises(HookFailed) as exc:
        validate.run(_cfg(make_config, url), log)
    assert "ReadTimeout" in str(exc.value)


def test_validate_wrong_body(make_config: MakeConfig, log: Any,
                             server: tuple[str, Behaviour]) -> None:
    url, behaviour = server
    behaviour.body = "maintenance"
    with pytest.raises(HookFailed) as exc:
        validate.run(_cfg(make_config, url, "  body: '^OK'\n  deadline: 1\n"), log)
    assert str(exc.value).endswith("body does not match '^OK' (first 80 chars: 'maintenance')")


def test_validate_nothing_listening(make_config: MakeConfig, log: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HookFailed) as exc:
        validate.run(_cfg(make_config, f"http://127.0.0.1:{port}/", "  deadline: 1\n"), log)
    assert "ConnectionError" in str(exc.value)


def test_validate_processes_and_ports(make_config: MakeConfig, log: Any,
                                      server: tuple[str, Behaviour]) -> None:
    url, _ = server
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    validate.run(make_config(f"version: 1\nvalidate:\n  processes: [{me}]\n  ports: [{port}]\n"
                             "  deadline: 1\n  timeout: 0.5\n"), log)
    with pytest.raises(HookFailed) as exc:
        validate.run(make_config("version: 1\nvalidate:\n  processes: [no-such-daemon]\n"
                                 "  deadline: 1\n  timeout: 0.5\n"), log)
    assert str(exc.value).endswith("process not running: no-such-daemon")


def _failed_once(exc: pytest.ExceptionInfo[HookFailed]) -> str:
    """The problem of a validate that failed after its one try (deadline = one try)."""
    m = re.fullmatch(r"validate failed after 1 tries in \d+\.\d s: (.*)", str(exc.value))
    assert m, str(exc.value)
    return m.group(1)


@pytest.mark.parametrize(("headers", "problem"), [
    ("{X-App: '^api/'}", "header X-App: 'shop/1.2' does not match '^api/'"),
    ("{X-App: '^shop/', X-Version: '.'}", "header X-Version: None does not match '.'"),
], ids=["wrong-value", "missing"])
def test_validate_header_check_fails_with_what_was_sent(
        make_config: MakeConfig, log: Any, captured: list[dict[str, Any]],
        server: tuple[str, Behaviour], headers: str, problem: str) -> None:
    url, _ = server
    with pytest.raises(HookFailed) as exc:
        validate.run(make_config(f"version: 1\nvalidate:\n  url: {url}\n  headers: {headers}\n"
                                 "  timeout: 0.5\n  deadline: 0.5\n"), log)
    assert _failed_once(exc) == problem
    assert [(e["event"], e["attempt"], e["problem"]) for e in captured] == [
        ("validate try failed", 1, problem)]


def test_validate_port_check_fails_when_nothing_listens(make_config: MakeConfig, log: Any,
                                                        server: tuple[str, Behaviour]) -> None:
    url, _ = server
    listening = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as bound:  # bound, never listening: a port nobody serves
        bound.bind(("127.0.0.1", 0))
        closed = bound.getsockname()[1]
        with pytest.raises(HookFailed) as exc:
            validate.run(make_config(f"version: 1\nvalidate:\n  ports: [{listening}, {closed}]\n"
                                     "  timeout: 0.5\n  deadline: 0.5\n"), log)
    assert _failed_once(exc) == f"nothing listens on port {closed}"


def test_validate_ports_are_checked_before_the_url(make_config: MakeConfig, log: Any,
                                                   server: tuple[str, Behaviour]) -> None:
    # the URL answers, but a port the service needs is closed: validate still fails
    url, _ = server
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        closed = bound.getsockname()[1]
        with pytest.raises(HookFailed) as exc:
            validate.run(make_config(f"version: 1\nvalidate:\n  url: {url}\n  ports: [{closed}]\n"
                                     "  timeout: 0.5\n  deadline: 0.5\n"), log)
    assert _failed_once(exc) == f"nothing listens on port {closed}"
