"""Releases served by a real nginx on 127.0.0.1 while `current` is swapped under it: every
response comes whole from one release, none is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.hooks import release
from agentkit.hooks.config import Config

from ..servers import free_port, wait_for

NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here (.ci/run "
                                                      "installs it)")
NAMES = [f"page{i}.html" for i in range(40)]


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[int]:
    """nginx serving tmp_path/app/current, as whoever runs the tests (no root needed)."""
    prefix, port = tmp_path / "nginx", free_port()
    (prefix / "tmp").mkdir(parents=True)
    temps = "".join(f"  {k}_temp_path {prefix}/tmp/{k};\n"
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(
        # as root nginx's workers would be nobody, who may not enter pytest's 0700 tmp dir
        ("user root root;\n" if os.geteuid() == 0 else "") +
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n{temps}"
        f"  server {{\n    listen 127.0.0.1:{port};\n    root {tmp_path}/app/current;\n"
        "  }\n}\n")
    proc = subprocess.Popen([str(NGINX), "-p", str(prefix), "-e", f"{prefix}/error.log", "-c",
                             str(prefix / "nginx.conf")], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(proc, port, "nginx", 10)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _stage(tmp: Path, n: int) -> None:
    staging = tmp / "app/staging"
    staging.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (staging / name).write_text(f"release {n}\n" * 200)


def test_release_swaps_under_nginx_never_serve_a_mixed_or_missing_tree(
        tmp_path: Path, make_config: Callable[[str], Config], log: Any, nginx: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config(f"version: 1\nreleases:\n  root: {tmp_path}/app\n  keep: 3\n")
    monkeypatch.delenv("LIFECYCLE_EVENT", raising=False)

    def deploy(n: int) -> None:
        monkeypatch.setenv("DEPLOYMENT_ID", f"d-00000000{n}")
        _stage(tmp_path, n)
        release.run(cfg, log)

    deploy(1)
    seen: list[tuple[int, str]] = []
    order: list[list[str]] = [[] for _ in range(4)]  # what each client saw, in turn
    stop = threading.Event()

    def client(k: int) -> None:
        i = k
        while not stop.is_set():
            url = f"http://127.0.0.1:{nginx}/{NAMES[i % len(NAMES)]}"
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    body = answer.read().decode()
                    seen.append((answer.status, body))
                    order[k].append(body[:10])
            except urllib.error.HTTPError as exc:
                seen.append((exc.code, ""))
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for n in (2, 3):
            time.sleep(0.3)
            deploy(n)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    whole = {f"release {n}\n" * 200 for n in (1, 2, 3)}
    assert len(seen) > 100
    assert all(status == 200 for status, _ in seen), {s for s, _ in seen}
    assert {body for _, body in seen} <= whole  # each response from one release, whole
    assert {body for _, body in seen} == whole  # and the swaps happened while it served
    for saw in order:  # once a client got the new release, never the old one again
        assert saw == sorted(saw)
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000003"
