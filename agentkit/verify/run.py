"""One verify, start to end: the owner of a run's resources. It makes (or takes) the work
directory and holds its lock, chooses the instance image, fetches an s3:// revision, runs the
previous revision and then this one through the lifecycle, and removes what it made, whatever
happens. The command (commands/verify.py) only turns options into a Request and the result
into a report."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

from agentkit import fstree, s3
from agentkit.agent.event_plan import IN_PLACE
from agentkit.errors import BadConfig, BadInput
from agentkit.image import cache as images
from agentkit.verify import assemble, defaults, hookbox, lifecycle
from agentkit.verify.options import Options
from agentkit.verify.result import VerifyResult

SMALL = 5000  # members of an archive whose throw-away root is removed before verify exits
LOCK = ".agentkit-lock"


@dataclass(frozen=True)
class Request:
    """What to verify and where: the revision as given (a path or s3://), and the run's
    resources."""

    archive: str
    previous: str | None = None  # the instance's earlier revision, deployed first
    etag: str | None = None  # the archive's (s3:// only)
    endpoint_url: str | None = None
    image: str | None = None  # --image; else agentkit.yml's `verify: image:`
    config: str | None = None  # --config: the agentkit.yml to read that from
    state_dir: str | None = None  # kept, and reused by the next run
    keep: str | None = None  # kept for a look afterwards
    wait: float = 0.0  # for another verify holding state_dir
    policy: hookbox.Policy = dataclasses.field(default_factory=hookbox.Policy)
    say_download: bool = False  # show an s3:// download's progress on stderr


@dataclass(frozen=True)
class Verified:
    result: VerifyResult
    previous: VerifyResult | None
    work: str  # the tree and changes of the result are read from files here
    image: str  # the instance image's root the run used ("": this machine's /)


# the options of one revision's run: (local archive, work directory, image, s3 origin)
OptionsFor = Callable[[str, str, "images.Image | None", "str | None"], Options]


@contextlib.contextmanager
def verified(req: Request, options: OptionsFor,
             progress: lifecycle.Progress = lifecycle.no_progress) -> Iterator[Verified]:
    """The results, while the work directory still holds what they point at."""
    work, temporary = work_dir(req.state_dir, req.keep)
    result: VerifyResult | None = None
    try:
        image = choose_image(req.image, req.config)
        with exclusive(work, req.wait), images.in_use(image.root if image else None), \
                hookbox.policy(req.policy):
            previous = None
            if req.previous:
                # the instance's earlier revision came by an in-place deployment
                before = options(_fetched(req, req.previous, work, None), work, image,
                                 _origin(req.previous, None))
                before = dataclasses.replace(
                    before, agent=dataclasses.replace(before.agent, deployment=IN_PLACE))
                previous = _as_given(revision(before, work, progress), req.previous)
            result = _as_given(revision(
                options(_fetched(req, req.archive, work, req.etag), work, image,
                        _origin(req.archive, req.etag)), work, progress), req.archive)
            yield Verified(result, previous, work, image.root if image else "")
    finally:
        if temporary:
            if result is not None and result.members > SMALL:
                discard_later(work)  # nobody waits for tens of thousands of files to go
            else:
                fstree.remove_tree(work)


def revision(opts: Options, work: str,
             progress: lifecycle.Progress = lifecycle.no_progress) -> VerifyResult:
    """One revision deployed by the lifecycle, and the result assembled from what it left."""
    with lifecycle.deployment(opts, work, progress) as ended:
        return assemble.result(ended, os.path.abspath(work))


def choose_image(given: str | None, config: str | None) -> images.Image | None:
    """--image, else the project's agentkit.yml `verify: image:`, else none (this machine)."""
    if given:
        return images.prepare(given)
    path = defaults.find(config)
    named = defaults.image(path) if path else None
    if named is None:
        return None
    if not os.path.exists(named):
        raise BadConfig(f"{path}: verify > image: {named} does not exist. Fetch the image "
                        "there (a directory, or a tar/tar.gz of the instance's root file "
                        "system), or pass --image.")
    image = images.prepare(named)
    return images.Image(image.root, (f"the image is the one {path} names (verify > image: "
                                     f"{named})", *image.notes))


def work_dir(state_dir: str | None, keep: str | None) -> tuple[str, bool]:
    """The throw-away root, and whether to delete it afterwards."""
    for flag, path in (("--state-dir", state_dir), ("--keep", keep)):
        if path:
            if os.path.exists(path) and not os.path.isdir(path):
                raise BadInput(f"{path}: {flag} must be a directory.")
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as exc:
                raise BadInput(f"{path}: {flag} cannot be created ({exc.strerror}); give a "
                               "directory verify may write.") from None
            # absolute: the deployment root's files are opened below it by their full path
            return os.path.abspath(path), False
    work = tempfile.mkdtemp(prefix="agentkit-verify-")
    os.chmod(work, 0o755)  # as the agent's deployment root: runas users must reach scripts
    return work, True


def discard_later(path: str) -> None:
    """Delete the throw-away root in a detached process: removing tens of thousands of files
    costs as much as writing them, and nobody waits for it (`tar -x` does not delete either).
    fstree.remove_tree never follows symlinks, at any depth."""
    try:
        pid = os.fork()
    except OSError:
        fstree.remove_tree(path)
        return
    if pid == 0:  # pragma: no cover - runs in the detached grandchild
        try:
            os.setsid()
            if os.fork() == 0:
                fstree.remove_tree(path)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@contextlib.contextmanager
def exclusive(work: str, wait: float) -> Iterator[None]:
    """One verify at a time in a --state-dir (or --keep) directory: two would interleave
    their deployments in one deployment root and host view. --wait: how long to wait for the
    other run (CI jobs of one pipeline that share a state dir queue up, as flock -w does)."""
    with open(os.path.join(work, LOCK), "w") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    when = f"still, after --wait {wait:g}" if wait else "right now"
                    raise BadInput(
                        f"{work}: another agentkit verify is using this directory {when}. "
                        "Wait for it to finish (--wait SECONDS waits for it), or give this "
                        "run another --state-dir/--keep directory.") from None
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        yield


def _fetched(req: Request, given: str, work: str, etag: str | None) -> str:
    """The revision as a local path: an s3:// location is downloaded into the throw-away
    root first (that version; the ETag checked as the agent checks it)."""
    if not s3.is_s3(given):
        return given
    loc = s3.parse(given, etag)  # --etag is ARCHIVE's, not --previous's
    directory = os.path.join(work, f"s3-{secrets.token_hex(4)}")
    os.makedirs(directory)
    path = os.path.join(directory, os.path.basename(loc.key) or "bundle")
    s3.download(loc, path, req.endpoint_url, sys.stderr if req.say_download else None)
    return path


def _origin(given: str, etag: str | None) -> str | None:
    return s3.parse(given, etag).url if s3.is_s3(given) else None


def _as_given(result: VerifyResult, given: str) -> VerifyResult:
    """The report names the revision as it was given (s3://...), not the downloaded copy."""
    return dataclasses.replace(result, archive=given) if s3.is_s3(given) else result
