"""Revisions in S3: the object a CodeDeploy S3Location names, fetched for `verify s3://...`
and stored by `agentkit push`, with boto3 (the optional extra `agentkit[s3]`).

The location is written as codedeploy-local takes it, `s3://BUCKET/KEY?versionId=V&etag=E`
(lib/aws/codedeploy/local/deployer.rb). The agent downloads that version and then compares
the ETag, quotes stripped, failing DownloadBundle with "Expected deployment artifact bundle
etag E but was actually X" (lib/instance_agent/plugins/codedeploy/command_executor.rb,
download_from_s3). The endpoint is --endpoint-url, else AWS_ENDPOINT_URL (boto3's own), so an
S3-compatible store or a local test server works; credentials come from boto3's usual chain.
"""

from __future__ import annotations

import sys
import urllib.parse
from typing import IO, Any, Callable, NamedTuple

from agentkit import environ
from agentkit.errors import BadInput

CHUNK = 1 << 20
PROGRESS_FROM = 4 << 20  # a progress line for downloads from this size, on a terminal


class S3Location(NamedTuple):
    bucket: str
    key: str
    version: str | None = None
    etag: str | None = None

    @property
    def url(self) -> str:
        query = urllib.parse.urlencode([(k, v) for k, v in (("versionId", self.version),
                                                           ("etag", self.etag)) if v])
        return f"s3://{self.bucket}/{self.key}" + (f"?{query}" if query else "")


def is_s3(text: str) -> bool:
    return text.startswith("s3://")


def parse(url: str, etag: str | None = None) -> S3Location:
    """s3://bucket/key[?versionId=V&etag=E]; `etag` (--etag) wins over the query's."""
    parsed = urllib.parse.urlsplit(url)
    key = urllib.parse.unquote(parsed.path[1:])
    if parsed.scheme != "s3" or not parsed.netloc or not key:
        raise BadInput(f"{url}: expected s3://BUCKET/KEY[?versionId=V&etag=E], the bucket and "
                       "key of the revision as CodeDeploy's S3Location names them.")
    query = dict(urllib.parse.parse_qsl(parsed.query))
    return S3Location(parsed.netloc, key, query.get("versionId"), etag or query.get("etag"))


def _client(endpoint: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise BadInput("boto3 is not installed, so S3 cannot be read: pip install "
                       "'agentkit[s3]' (or download the object and verify the file).") from None
    url = endpoint or environ.get("AWS_ENDPOINT_URL") or None
    # a session of its own: the credential chain is read now, not from an earlier client's
    return boto3.session.Session().client("s3", endpoint_url=url)


def _failure(exc: Exception, loc: S3Location, doing: str, needs: str) -> BadInput:
    """One paragraph for what boto3 raised: absent, denied, no credentials, unreachable."""
    name = type(exc).__name__
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    where = loc.url
    if code in ("404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"):
        version = f" version {loc.version}" if loc.version else ""
        return BadInput(f"{where}: no such object{version} in bucket {loc.bucket} ({code}). "
                        "Check the bucket, key and versionId (aws s3api list-object-versions).")
    if code in ("403", "AccessDenied", "Forbidden"):
        return BadInput(f"{where}: access denied while {doing} ({code}). The credentials in "
                        f"use need {needs} on it.")
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return BadInput(f"{where}: no AWS credentials found while {doing}. Set "
                        "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where "
                        "an instance role or SSO login provides them.")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return BadInput(f"{where}: cannot reach S3 while {doing}: {exc}. Check the network, "
                        "the region (AWS_REGION) or --endpoint-url.")
    return BadInput(f"{where}: S3 refused {doing}: {exc}")


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _copy(body: Any, out: IO[bytes], total: int, tick: Callable[[int, int], None]) -> None:
    done = 0
    for block in iter(lambda: body.read(CHUNK), b""):
        out.write(block)
        done += len(block)
        tick(done, total)


def _progress(stream: IO[str] | None, total: int) -> Callable[[int, int], None]:
    """A line on a terminal's stderr that counts up, for downloads worth waiting for."""
    if stream is None or total < PROGRESS_FROM or not stream.isatty():
        return lambda _done, _total: None

    def tick(done: int, whole: int) -> None:
        end = "\n" if done >= whole else ""
        stream.write(f"\rdownloading {done >> 20} / {whole >> 20} MB{end}")
        stream.flush()
    return tick


def download(loc: S3Location, path: str, endpoint: str | None = None,
             progress: IO[str] | None = sys.stderr) -> str:
    """Write the object (that version) to `path`; its ETag, checked against loc.etag as the
    agent checks it after the download."""
    args = {"Bucket": loc.bucket, "Key": loc.key}
    if loc.version:
        args["VersionId"] = loc.version
    try:
        answer = _client(endpoint).get_object(**args)
        with open(path, "wb") as out:
            _copy(answer["Body"], out, int(answer.get("ContentLength") or 0),
                  _progress(progress, int(answer.get("ContentLength") or 0)))
    except _errors() as exc:
        raise _failure(exc, loc, "downloading the revision", "s3:GetObject (and "
                       "s3:GetObjectVersion for a versionId)") from None
    except (ValueError, OSError) as exc:  # a bad --endpoint-url; a full disk
        raise BadInput(f"{loc.url}: cannot download the revision: {exc}") from None
    actual = str(answer.get("ETag", ""))
    if loc.etag is not None and loc.etag.replace('"', "") != actual.replace('"', ""):
        raise BadInput(f"{loc.url}: Expected deployment artifact bundle etag {loc.etag} but "
                       f"was actually {actual} (the agent fails DownloadBundle with these "
                       "words): the object changed since the ETag was taken. Deploy the "
                       "current ETag, or the versionId that has the one you meant.")
    return actual


def upload(path: str, loc: S3Location, endpoint: str | None = None,
           metadata: dict[str, str] | None = None) -> S3Location:
    """Put the file at the location; where it is, with the ETag and version S3 gave it."""
    try:
        with open(path, "rb") as body:
            answer = _client(endpoint).put_object(Bucket=loc.bucket, Key=loc.key, Body=body,
                                                  Metadata=metadata or {})
    except _errors() as exc:
        raise _failure(exc, loc, "uploading the revision", "s3:PutObject") from None
    except (ValueError, OSError) as exc:
        raise BadInput(f"{loc.url}: cannot upload the revision: {exc}") from None
    return S3Location(loc.bucket, loc.key, answer.get("VersionId") or None,
                      str(answer.get("ETag", "")).replace('"', "") or None)
