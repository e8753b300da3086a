"""`agentkit push` and `agentkit verify s3://...` against moto's S3 server on 127.0.0.1: a
real HTTP endpoint with versioning, started here; boto3 is never patched."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main
from agentkit.verify import hookbox

from ..archives import script, tar
from .conftest import boto3


def _bundle(tmp: Path, name: str, appspec_extra: str = "") -> Path:
    spec = ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: env.sh\n"
            + appspec_extra)
    return tar(tmp / name, [("appspec.yml", "file", spec, 0o644), (
        "env.sh", "file", script('echo "$BUNDLE_BUCKET $BUNDLE_KEY $BUNDLE_VERSION '
                                 '$BUNDLE_ETAG"\n'), 0o755)])


def _push(capsys: pytest.CaptureFixture[str], path: Path, url: str) -> tuple[str, str]:
    assert main(["push", str(path), url, "--application-name", "shop",
                 "--deployment-group-name", "web"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"eTag=([0-9a-f]{32}),version=(\S+)\n", out)
    assert found, out
    return found.group(1), found.group(2)


def test_s3_push_then_verify_that_exact_object(
        tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    arc = _bundle(tmp_path, "app.tgz")
    url = f"s3://{bucket}/releases/app.tgz"
    assert main(["push", str(arc), url, "--application-name", "shop",
                 "--deployment-group-name", "web"]) == 0
    out = capsys.readouterr().out
    found = re.fullmatch(
        rf"uploaded {arc} to s3://{bucket}/releases/app.tgz\?versionId=(\S+)&etag=(\w+)\n"
        r"To deploy this revision, run:\n"
        rf"  aws deploy create-deployment --application-name shop --deployment-group-name web "
        rf"--s3-location bucket={bucket},key=releases/app.tgz,bundleType=tgz,eTag=(\w+),"
        r"version=(\S+)\n"
        rf"or verify it first: agentkit verify 's3://{bucket}/releases/app.tgz\?versionId=\S+"
        r"&etag=\w+'\n", out)
    assert found, out
    version, etag = found.group(1), found.group(2)
    assert (found.group(3), found.group(4)) == (etag, version)
    head = boto3.client("s3").head_object(Bucket=bucket, Key="releases/app.tgz")
    assert head["Metadata"]["agentkit-sha256"] == __import__("hashlib").sha256(
        arc.read_bytes()).hexdigest()
    given = f"{url}?versionId={version}&etag={etag}"
    code = main(["verify", "--format", "json", given])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert (code, report["archive"], report["result"]) in (
        (0, given, "succeeded"), (4, given, "undetermined"))
    if hookbox.unavailable() is None:
        [after] = [e for e in report["events"] if e["name"] == "AfterInstall"]
        assert [o["line"] for o in after["scripts"][0]["output"]] == [
            f"{bucket} releases/app.tgz {version} {etag}"]


def test_s3_verify_a_version_reads_that_version(
        tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"s3://{bucket}/app.tgz"
    _, good = _push(capsys, _bundle(tmp_path, "good.tgz"), url)
    _push(capsys, _bundle(tmp_path, "bad.tgz", "  AfterInstal:\n    - location: env.sh\n"), url)
    assert main(["verify", "--hooks", "skip", f"{url}?versionId={good}"]) == 0
    capsys.readouterr()
    assert main(["verify", "--hooks", "skip", url]) == 1  # the latest has the typo
    assert "AfterInstal" in capsys.readouterr().out


def test_s3_etag_that_differs_is_the_agents_download_error(
        tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"s3://{bucket}/app.tgz"
    etag, _ = _push(capsys, _bundle(tmp_path, "a.tgz"), url)
    assert main(["verify", "--etag", "0" * 32, url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {url}?etag={'0' * 32}: Expected deployment artifact bundle etag "
        f"{'0' * 32} but was actually \"{etag}\" (the agent fails DownloadBundle with these "
        "words): the object changed since the ETag was taken. Deploy the current ETag, or "
        "the versionId that has the one you meant.")


def test_s3_missing_object_is_a_clear_error(
        bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"s3://{bucket}/nothing.tgz"
    assert main(["verify", url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {url}: no such object in bucket {bucket} (NoSuchKey). Check the "
        "bucket, key and versionId (aws s3api list-object-versions).")


def test_s3_without_credentials_says_where_they_come_from(
        tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = f"s3://{bucket}/app.tgz"
    assert main(["verify", url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {url}: no AWS credentials found while downloading the revision. "
        "Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where an "
        "instance role or SSO login provides them.")


@pytest.mark.parametrize(("url", "said"), [
    ("s3://only-a-bucket", "s3://only-a-bucket: expected s3://BUCKET/KEY[?versionId=V&etag=E], "
     "the bucket and key of the revision as CodeDeploy's S3Location names them."),
])
def test_s3_location_of_the_wrong_form_is_refused_before_anything(
        capsys: pytest.CaptureFixture[str], url: str, said: str) -> None:
    assert main(["verify", url]) == 1
    assert capsys.readouterr().err.strip() == f"agentkit: error: {said}"


def test_s3_without_boto3_names_the_extra(
        bucket: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets without it
    assert main(["verify", f"s3://{bucket}/app.tgz"]) == 1
    assert capsys.readouterr().err.strip() == (
        "agentkit: error: boto3 is not installed, so S3 cannot be read: pip install "
        "'agentkit[s3]' (or download the object and verify the file).")


def test_s3_etag_is_the_archives_not_the_previous_revisions(
        tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    _push(capsys, _bundle(tmp_path, "old.tgz"), f"s3://{bucket}/old.tgz")
    etag, _ = _push(capsys, _bundle(tmp_path, "new.tgz"), f"s3://{bucket}/new.tgz")
    assert main(["verify", "--hooks", "skip", "--etag", etag, "--previous",
                 f"s3://{bucket}/old.tgz", f"s3://{bucket}/new.tgz"]) == 0
    capsys.readouterr()


def test_s3_endpoint_that_is_no_url_is_a_clear_error(
        bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"s3://{bucket}/app.tgz"
    assert main(["verify", "--endpoint-url", "localhost:9000", url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"agentkit: error: {url}: cannot download the revision: Invalid endpoint: "
        "localhost:9000")
