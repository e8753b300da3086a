"""`agentkit push ARCHIVE s3://BUCKET/KEY`: upload a revision and print the command that
deploys exactly that object (its ETag and, in a versioned bucket, its version), as `aws
deploy push` does for the archives it makes itself."""

from __future__ import annotations

import argparse
import os
import shlex

from agentkit import digests, s3
from agentkit.bundle import archive
from agentkit.errors import BadInput


def command(loc: s3.S3Location, bundle_type: str, application: str | None,
            group: str | None) -> str:
    """The `aws deploy create-deployment` line for the uploaded object (its S3Location)."""
    parts = [f"bucket={loc.bucket}", f"key={loc.key}", f"bundleType={bundle_type}"]
    parts += [f"eTag={loc.etag}"] if loc.etag else []
    parts += [f"version={loc.version}"] if loc.version else []
    return ("aws deploy create-deployment --application-name "
            f"{shlex.quote(application or '<application>')} --deployment-group-name "
            f"{shlex.quote(group or '<deployment-group>')} --s3-location "
            f"{shlex.quote(','.join(parts))}")


def run(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.archive):
        raise BadInput(f"{args.archive}: no such file. Give the .tgz, .tar or .zip to upload "
                       "(agentkit bundle makes one).")
    kind = archive.content_kind(args.archive)
    if kind not in ("gzip", "tar", "zip"):
        raise BadInput(f"{args.archive}: not a tar, tar.gz or zip archive ({kind}); CodeDeploy "
                       "takes only those bundle types.")
    loc = s3.parse(args.location)
    if loc.version or loc.etag:
        raise BadInput(f"{args.location}: give only s3://BUCKET/KEY; S3 chooses the version and "
                       "ETag of what is uploaded.")
    done = s3.upload(args.archive, loc, args.endpoint_url,
                     {"agentkit-sha256": digests.file_sha256(args.archive)})
    print(f"uploaded {args.archive} to {done.url}")
    print("To deploy this revision, run:")
    line = command(done, archive.bundle_type(kind), args.application_name,
                   args.deployment_group_name)
    print(f"  {line}")
    print(f"or verify it first: agentkit verify '{done.url}'")
    return 0
