"""What the agent needs from AWS: the instance metadata service (IMDSv2: a PUT for a token,
then the role's credentials with it; the agent's `:disable_imds_v1:` makes v2 the only
way), the instance profile, the CodeDeploy and S3 endpoints of the region through the
agent's `:proxy_uri:`, and a clock close enough for SigV4 (AWS refuses requests signed more
than 15 minutes off)."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, NamedTuple

from agentkit import environ
from agentkit.doctor.result import Check, fail, ok, warn

IMDS = "http://169.254.169.254"
TOKEN_TTL = "21600"
TIMEOUT = 2.0
SKEW_FAIL = 300.0  # seconds; SigV4 fails past 900, the agent's long polls earlier
SKEW_WARN = 60.0


class Metadata(NamedTuple):
    """What IMDS told, for the checks after it (None when it could not be asked)."""

    region: str | None
    date: float | None  # the service's clock (its Date header), for the skew


def _requests() -> Any:
    import requests  # only the doctor's network checks pay for it

    return requests


def _session() -> Any:
    """No proxy from this shell's HTTP(S)_PROXY: IMDS is never proxied, and the endpoints
    are tried through the agent's own :proxy_uri: only, as the agent reaches them."""
    session = _requests().Session()
    session.trust_env = False
    return session


def imds(endpoint: str | None) -> tuple[list[Check], Metadata]:
    base = (endpoint or environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS).rstrip("/")
    requests, http = _requests(), _session()
    try:
        answer = http.put(f"{base}/latest/api/token", timeout=TIMEOUT,
                              headers={"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL})
    except requests.RequestException as exc:
        return [warn("instance metadata", f"no answer from {base} ({type(exc).__name__}): "
                     "not an EC2 instance, or IMDS is off for it",
                     "on EC2: enable the metadata service (aws ec2 modify-instance-metadata-"
                     "options --http-endpoint enabled)")], Metadata(None, None)
    if answer.status_code != 200 or not answer.text:
        return [fail("instance metadata", f"{base} refused an IMDSv2 token (HTTP "
                     f"{answer.status_code}): the agent gets no credentials",
                     "allow IMDSv2 tokens (http-tokens optional|required); from a container "
                     "raise http-put-response-hop-limit to 2")], Metadata(None, None)
    headers = {"X-aws-ec2-metadata-token": answer.text}
    date = _date(answer.headers.get("Date"))
    checks = [ok("instance metadata", f"{base}: IMDSv2 token granted")]
    checks.append(_profile(requests, http, base, headers))
    region = None
    try:
        got = http.get(f"{base}/latest/meta-data/placement/region", headers=headers,
                           timeout=TIMEOUT)
        region = got.text.strip() if got.status_code == 200 else None
    except requests.RequestException:
        pass
    return checks, Metadata(region, date)


def _profile(requests: Any, http: Any, base: str, headers: dict[str, str]) -> Check:
    url = f"{base}/latest/meta-data/iam/security-credentials/"
    try:
        roles = http.get(url, headers=headers, timeout=TIMEOUT)
        if roles.status_code == 404 or not roles.text.strip():
            return fail("instance profile", "none: the agent has no credentials to poll "
                        "CodeDeploy or read the revision from S3", "attach an instance "
                        "profile whose role may read the revision bucket (s3:GetObject)")
        role = roles.text.split()[0]
        creds = json.loads(http.get(url + role, headers=headers, timeout=TIMEOUT).text)
    except (requests.RequestException, ValueError) as exc:
        return fail("instance profile", f"credentials could not be read: {exc}",
                    "check the instance profile's role and its trust policy")
    if creds.get("Code") != "Success":
        return fail("instance profile", f"role {role}: {creds.get('Code')} "
                    f"{creds.get('Message', '')}".strip(), "check the role's trust policy "
                    "(ec2.amazonaws.com) and that the profile is attached")
    return ok("instance profile", f"role {role}, credentials until {creds.get('Expiration')}")


def _date(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None


def clock(meta: Metadata) -> Check:
    if meta.date is None:
        return warn("clock", "not checked: no clock to compare with (IMDS gave no Date)",
                    "check chronyd (Amazon Time Sync: 169.254.169.123)")
    skew = time.time() - meta.date
    text = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the metadata service"
    if abs(skew) > SKEW_FAIL:
        return fail("clock", text + ": AWS refuses requests signed that far off",
                    "sync the clock (chronyd with the Amazon Time Sync Service)")
    if abs(skew) > SKEW_WARN:
        return warn("clock", text, "sync the clock (chronyd)")
    return ok("clock", text)


def endpoints(meta: Metadata, proxy: str | None,
              given: dict[str, str]) -> list[Check]:
    """Each endpoint answers at all (any HTTP status), through the agent's proxy."""
    wanted = dict(given)
    for service in ("codedeploy", "s3"):
        if service not in wanted and meta.region:
            wanted[service] = f"https://{service}.{meta.region}.amazonaws.com"
    if not wanted:
        return [warn("endpoints", "not checked: the region is not known (no IMDS)",
                     "run on the instance, or name them: --endpoint codedeploy=URL")]
    requests, http = _requests(), _session()
    proxies = {"http": proxy, "https": proxy} if proxy else None
    out = []
    for service, url in sorted(wanted.items()):
        via = f" through {proxy}" if proxy else ""
        try:
            answer = http.head(url, timeout=TIMEOUT * 2, proxies=proxies)
        except requests.RequestException as exc:
            out.append(fail(f"{service} endpoint", f"{url} does not answer{via}: "
                            f"{type(exc).__name__}", "open egress to it (security group, NACL, "
                            "a VPC endpoint), or fix :proxy_uri: in the agent config"))
            continue
        out.append(ok(f"{service} endpoint", f"{url} answers{via} (HTTP {answer.status_code})"))
    return out
