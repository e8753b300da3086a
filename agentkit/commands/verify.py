"""`agentkit verify ARCHIVE`: predict what the CodeDeploy agent does with this exact archive."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import os
import re
import secrets
import shutil
import signal
import string
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator

from agentkit import fstree, s3
from agentkit.agent import config, event_plan, hookbox, lifecycle
from agentkit.agent import image as images
from agentkit.agent.result import VerifyResult
from agentkit.appspec import events as ev
from agentkit.commands import verify_config
from agentkit.errors import BadConfig, BadInput, Terminated, UsageError
from agentkit.report import colour, junit, verify_json, verify_text
from agentkit.report.colour import Paint
from agentkit.report.progress import Progress


def deployment_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


def _events(text: str | None) -> tuple[str, ...]:
    """--events as codedeploy-local reads it: names split on commas, in the order given; a
    name that is not a lifecycle event is a custom event whose hooks run from the new
    revision (deployer.rb#hook_mapping). What codedeploy-local refuses (cli_validator.rb) is a
    usage error, and so is a name that is a lifecycle event misspelt: codedeploy-local would
    run it as a custom event with no hooks, and report success for a deployment that ran
    nothing."""
    if not text:
        return ()
    names = tuple(text.split(","))
    odd = [n for n in names if not n or n != n.strip()]
    if odd:
        raise UsageError(f"--events {text!r}: {', '.join(repr(n) for n in odd)} is empty or "
                         "has spaces around it, which codedeploy-local would take as an event "
                         "name; write the names separated by commas alone, e.g. "
                         "--events BeforeInstall,AfterInstall.")
    for name in names:
        meant = ev.suggest(name)
        if name not in ev.ORDERED and meant is not None:
            raise UsageError(f"--events {text!r}: {name} is not a lifecycle event (did you "
                             f"mean {meant}?); codedeploy-local would run it as a custom event "
                             "and nothing of " + meant + " would run. Lifecycle events: "
                             f"{','.join(ev.ORDERED)}; any other name is a custom event "
                             "whose hooks the appspec lists under that name.")
    problem = ev.check_order(names)
    if problem:
        raise UsageError(f"--events: {problem}")
    return names


def _bundle_env(url: str | None) -> tuple[tuple[str, str], ...]:
    """The BUNDLE_* variables the agent gives hooks for a revision from S3 or GitHub
    (command_executor.rb#get_s3_envs, #get_github_envs; the location parsed as
    deployer.rb#s3_revision and #github_revision do). An absent version or ETag is unset."""
    if not url:
        return ()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "s3":
        if not parsed.netloc or not parsed.path.startswith("/") or len(parsed.path) < 2:
            raise BadInput(f"--bundle-location {url}: s3 location not in the expected format "
                           "of 's3://bucket/key'.")
        query = dict(urllib.parse.parse_qsl(parsed.query))
        env = [("BUNDLE_BUCKET", parsed.netloc), ("BUNDLE_KEY", parsed.path[1:])]
        env += [(name, query[key]) for name, key in (("BUNDLE_VERSION", "versionId"),
                                                     ("BUNDLE_ETAG", "etag")) if key in query]
        return tuple(env)
    if parsed.scheme == "https" and parsed.netloc.endswith("github.com"):
        if parsed.netloc == "github.com" and re.match(r"/[^/]*/.*$", parsed.path):
            return (("BUNDLE_COMMIT", "HEAD"),)
        found = re.match(r"/repos/[^/]*/[^/]*/.*/(.*)$", parsed.path)
        if found:
            return (("BUNDLE_COMMIT", found.group(1)),)
    raise BadInput(f"--bundle-location {url}: expected s3://BUCKET/KEY, "
                   "https://github.com/OWNER/REPO or "
                   "https://api.github.com/repos/OWNER/REPO/tarball/COMMIT.")


def _group_id(value: str) -> str:
    """The group id names a directory and files of the deployment root
    (`<root>/<group>/<deployment>`, `deployment-instructions/<group>-cleanup`;
    deployment_command_tracker.rb, installer.rb): the agent joins it as given, so `../x`
    would leave the root. verify takes only one plain path component, short enough for
    its longest file name (`<group>_last_successful_install`) to fit NAME_MAX."""
    longest = len(os.fsencode(value)) + len("_last_successful_install")
    if not value or "/" in value or value in (".", "..") or longest > 255:
        raise UsageError(f"--deployment-group {value!r}: give one name without '/' (not '.' "
                         "or '..', at most 230 bytes), e.g. the deployment group id "
                         "(`aws deploy get-deployment-group`) or dg-verify; it names a "
                         "directory of the agent's deployment root.")
    return value


def _appspec_name(name: str) -> str:
    """2.1.0 refuses an AppSpecFilename that is not a safe relative path (builder.rs); 1.x
    would read whatever File.join reaches: verify takes only names inside the bundle."""
    parts = name.split("/")
    if not name or name.startswith("/") or ".." in parts or "\0" in name:
        raise BadInput(f"--appspec-filename {name!r}: give a path relative to the bundle "
                       "root, inside it (e.g. appspec.yml or deploy/appspec-prod.yml).")
    return name


def _options(args: argparse.Namespace, archive: str, work: str, image: images.Image | None,
             progress: Progress | None = None, origin: str | None = None) -> lifecycle.Options:
    """`origin`: the s3:// location `archive` was downloaded from (the hooks' BUNDLE_*)."""
    masked = tuple(sorted({os.path.realpath(p) for p in (work, args.state_dir, args.keep) if p}))
    agent = config.read(args.agent_configuration_file)
    return lifecycle.Options(
        archive=archive, bundle_type=args.type, generation=args.agent,
        file_exists_behavior=args.file_exists_behavior,
        group_id=_group_id(args.deployment_group),
        deployment_id=deployment_id(), load_balancer=args.load_balancer,
        install=not args.no_install, hooks=args.hooks, network=args.network,
        events=_events(args.events), application_name=args.application_name,
        group_name=args.deployment_group_name,
        bundle_env=_bundle_env(args.bundle_location or origin),
        digests=args.format == "json",  # only the JSON tree shows digests
        paths=args.format == "json", env_from_caller=args.env_from_caller,
        max_disk=args.max_disk, max_procs=args.max_procs, masked=masked,
        appspec_name=_appspec_name(args.appspec_filename), agent_root=agent.root_dir,
        max_revisions=agent.max_revisions,
        ignore_stop_failures=args.ignore_application_stop_failures,
        deployment=_deployment(args), image=image.root if image else "",
        image_notes=image.notes if image else (),
        on_phase=progress.phase if progress else lambda _what, _limit: None)


def _image(args: argparse.Namespace) -> images.Image | None:
    """--image, else the project's agentkit.yml `verify: image:`, else none (this machine)."""
    if args.image:
        return images.prepare(args.image)
    path = verify_config.find(args.config)
    named = verify_config.image(path) if path else None
    if named is None:
        return None
    if not os.path.exists(named):
        raise BadConfig(f"{path}: verify > image: {named} does not exist. Fetch the image "
                        "there (a directory, or a tar/tar.gz of the instance's root file "
                        "system), or pass --image.")
    image = images.prepare(named)
    return images.Image(image.root, (f"the image is the one {path} names (verify > image: "
                                     f"{named})", *image.notes))


def _deployment(args: argparse.Namespace) -> str:
    """The kind of deployment and instance modelled; options that contradict it are usage
    errors rather than silently ignored."""
    if args.deployment_type == "in-place":
        if args.instance:
            raise UsageError(f"--instance {args.instance}: only a blue/green deployment has "
                             "replacement and original instances; add --deployment-type "
                             "blue-green.")
        return event_plan.IN_PLACE
    if args.events:
        raise UsageError("--events with --deployment-type blue-green: the service runs a "
                         "blue/green instance's events itself; give one or the other.")
    if not args.load_balancer:
        raise UsageError("--no-load-balancer with --deployment-type blue-green: a blue/green "
                         "deployment shifts traffic with a load balancer; drop one of them.")
    if args.instance == "original":
        return event_plan.ORIGINAL
    if args.previous:
        raise UsageError("--previous with a blue/green replacement instance: it is launched "
                         "new and has no earlier revision; add --instance original to see what "
                         "the instances that have it run.")
    return event_plan.REPLACEMENT


def _work_dir(args: argparse.Namespace) -> tuple[str, bool]:
    """The throw-away root, and whether to delete it afterwards."""
    for flag, path in (("--state-dir", args.state_dir), ("--keep", args.keep)):
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


SMALL = 5000  # members of an archive whose throw-away root is removed before verify exits


def _discard_later(path: str) -> None:
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


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def _policy(args: argparse.Namespace) -> hookbox.Policy:
    """What the boxes of this run show beyond the defaults: --show PATH, a directory this
    machine keeps private (a home, TMPDIR, the CI job's work directory) that hooks may read.
    (getattr: the options are read where the parser has them.)"""
    show = []
    for path in getattr(args, "show", None) or ():
        if not os.path.isdir(path):
            raise UsageError(f"--show {path}: not a directory of this machine; give a "
                             "directory the box hides by default that its hooks should see "
                             "(a home, TMPDIR, the job's work directory).")
        show.append(os.path.abspath(path))
    memory = getattr(args, "max_memory", None) or hookbox.Policy.max_memory
    return hookbox.Policy(show=tuple(show), max_memory=memory)


def run(args: argparse.Namespace) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a Jenkins abort: clean up as for Ctrl-C
        signal.signal(sig, _terminate)
    for path in [args.archive, *([args.previous] if args.previous else [])]:
        if s3.is_s3(path):
            s3.parse(path, args.etag)  # its form is judged before anything is fetched
        elif not os.path.exists(path):
            raise BadInput(f"{path}: no such file or directory. Give a .tar, .tar.gz/.tgz, "
                           ".zip or a bundle directory.")
    # what becomes a path or decides the events is judged before anything is written
    _group_id(args.deployment_group)
    _events(args.events)
    box_policy = _policy(args)
    work, temporary = _work_dir(args)
    result: VerifyResult | None = None
    # the progress line: on a terminal's stderr, for the text report only
    progress = Progress.to_terminal(sys.stderr, args.format == "text")
    try:
        image = _image(args)
        with _exclusive(work, args.wait), images.in_use(image.root if image else None), \
                hookbox.policy(box_policy):
            previous = None
            if args.previous:
                # the instance's earlier revision came by an in-place deployment
                before = dataclasses.replace(
                    _options(args, _fetched(args, args.previous, work, None), work, image,
                             progress, _origin(args.previous, None)),
                    deployment=event_plan.IN_PLACE)
                previous = _as_given(lifecycle.run(before, work), args.previous)
            result = _as_given(lifecycle.run(
                _options(args, _fetched(args, args.archive, work, args.etag), work, image,
                         progress, _origin(args.archive, args.etag)), work), args.archive)
            progress.close()
            _write(args, result, previous, work,  # the tree and changes are read from `work`
                   image.root if image else "")
    finally:
        progress.close()
        if temporary:
            if result is not None and result.members > SMALL:
                _discard_later(work)  # nobody waits for tens of thousands of files to go
            else:
                fstree.remove_tree(work)
    return exit_code(result)


def _fetched(args: argparse.Namespace, given: str, work: str, etag: str | None) -> str:
    """The revision as a local path: an s3:// location is downloaded into the throw-away
    root first (that version; the ETag checked as the agent checks it)."""
    if not s3.is_s3(given):
        return given
    loc = s3.parse(given, etag)  # --etag is ARCHIVE's, not --previous's
    directory = os.path.join(work, f"s3-{secrets.token_hex(4)}")
    os.makedirs(directory)
    path = os.path.join(directory, os.path.basename(loc.key) or "bundle")
    s3.download(loc, path, args.endpoint_url,
                sys.stderr if args.format == "text" else None)
    return path


def _origin(given: str, etag: str | None) -> str | None:
    return s3.parse(given, etag).url if s3.is_s3(given) else None


def _as_given(result: VerifyResult, given: str) -> VerifyResult:
    """The report names the revision as it was given (s3://...), not the downloaded copy."""
    return dataclasses.replace(result, archive=given) if s3.is_s3(given) else result


EXIT_UNDETERMINED = 4


def exit_code(result: VerifyResult) -> int:
    """0: the deployment would succeed; 1: it would fail, or a finding is an error; 4: verify
    could not run everything here (hooks not run, or refused for a lack of privilege of its
    box) and nothing it ran failed."""
    if result.failure is not None or result.errors:
        return 1
    return EXIT_UNDETERMINED if result.undetermined else 0


@contextlib.contextmanager
def _exclusive(work: str, wait: float) -> Iterator[None]:
    """One verify at a time in a --state-dir (or --keep) directory: two would interleave
    their deployments in one deployment root and sandbox. --wait: how long to wait for the
    other run (CI jobs of one pipeline that share a state dir queue up, as flock -w does)."""
    with open(os.path.join(work, ".agentkit-lock"), "w") as lock:
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


def _write(args: argparse.Namespace, result: VerifyResult, previous: VerifyResult | None,
           work: str, image: str = "") -> None:
    """The report, whole or not at all: rendered into a file first, then copied out."""
    from agentkit.diagnose import from_verify

    found = tuple(from_verify.diagnoses(result, network=bool(getattr(args, "network", False)),
                                        image=image))
    if args.junit:
        _replace(args.junit, junit.render(result, found))
    if args.format == "json":
        with tempfile.TemporaryFile("w+", dir=work, encoding="utf-8") as out:
            verify_json.write(out, result, previous, found)
            out.seek(0)
            shutil.copyfileobj(out, sys.stdout, 1 << 20)
    else:
        paint = Paint(colour.wanted(sys.stdout))
        sys.stdout.write(verify_text.render(result, previous, paint, found))
    sys.stdout.flush()


def _replace(path: str, text: str) -> None:
    """Write a file by rename: a reader never sees half of it."""
    tmp = f"{path}.agentkit-tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
