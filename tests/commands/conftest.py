"""Fixtures of the command tests: moto's S3 server on 127.0.0.1 (a real HTTP endpoint with
versioning, started once per module) and a fresh bucket with credentials for it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from ..servers import free_port, wait_for

try:
    import boto3
except ImportError:  # the s3 extra; the S3 tests skip without it
    boto3 = None


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    if boto3 is None:
        pytest.skip("boto3 and moto[server] are in the test extra (pip install '.[test]')")
    pytest.importorskip("moto", reason="moto[server] is in the test extra")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(server, port, "moto's server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    name = f"agentkit-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
