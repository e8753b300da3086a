"""`agentkit verify ARCHIVE`: predict what the CodeDeploy agent does with this exact archive."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import string
import sys
import tempfile
import urllib.parse

from agentkit import events as ev
from agentkit import s3
from agentkit.agent import agent_yml, event_plan
from agentkit.errors import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNDETERMINED,
    BadInput,
    Terminated,
    UsageError,
)
from agentkit.image import cache as images
from agentkit.report import colour, github, junit, sarif, verify_json, verify_text
from agentkit.report.colour import Paint
from agentkit.report.progress import Progress
from agentkit.verify import hookbox
from agentkit.verify.options import AgentOptions, BoxOptions, Options, ReportOptions
from agentkit.verify.result import VerifyResult
from agentkit.verify.run import Request, verified


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
             origin: str | None) -> Options:
    """`origin`: the s3:// location `archive` was downloaded from (the hooks' BUNDLE_*)."""
    masked = tuple(sorted({os.path.realpath(p) for p in (work, args.state_dir, args.keep) if p}))
    agent = agent_yml.read(args.agent_configuration_file)
    return Options(
        archive=archive,
        agent=AgentOptions(
            bundle_type=args.type, generation=args.agent,
            file_exists_behavior=args.file_exists_behavior,
            group_id=_group_id(args.deployment_group), deployment_id=deployment_id(),
            load_balancer=args.load_balancer, install=not args.no_install,
            events=_events(args.events), application_name=args.application_name,
            group_name=args.deployment_group_name,
            bundle_env=_bundle_env(args.bundle_location or origin),
            env_from_caller=args.env_from_caller,
            appspec_name=_appspec_name(args.appspec_filename), agent_root=agent.root_dir,
            max_revisions=agent.max_revisions,
            ignore_stop_failures=args.ignore_application_stop_failures,
            deployment=_deployment(args)),
        box=BoxOptions(
            hooks=args.hooks, network=args.network, max_disk=args.max_disk,
            max_procs=args.max_procs, masked=masked, image=image.root if image else "",
            image_notes=image.notes if image else ()),
        # only the JSON report shows the tree and its digests
        report=ReportOptions(digests=args.format == "json", paths=args.format == "json"))


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
    request = Request(
        archive=args.archive, previous=args.previous, etag=args.etag,
        endpoint_url=args.endpoint_url, image=args.image, config=args.config,
        state_dir=args.state_dir, keep=args.keep, wait=args.wait, policy=_policy(args),
        say_download=args.format == "text")
    # the progress line: on a terminal's stderr, for the text report only
    progress = Progress.to_terminal(sys.stderr, args.format == "text")
    try:
        with verified(request, lambda archive, work, image, origin: _options(
                args, archive, work, image, origin), progress.phase) as done:
            progress.close()
            # the tree and changes are read from `work`; the image names a missing command's
            # package
            _write(args, done.result, done.previous, done.work, done.image)
    finally:
        progress.close()
    return exit_code(done.result)


def exit_code(result: VerifyResult) -> int:
    """0: the deployment would succeed; 1: it would fail, or a finding is an error; 4: verify
    could not run everything here (hooks not run, or refused for a lack of privilege of its
    box) and nothing it ran failed."""
    if result.failure is not None or result.errors:
        return EXIT_PROBLEM
    return EXIT_UNDETERMINED if result.undetermined else EXIT_OK


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
    elif args.format == "sarif":
        sys.stdout.write(sarif.render_verify(result, found))
    elif args.format == "github":
        sys.stdout.write(github.render_verify(result, found))
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
