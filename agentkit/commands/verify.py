"""`agentkit verify ARCHIVE`: predict what the CodeDeploy agent does with this exact archive."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import string
import sys
import tempfile
from collections.abc import Iterator

from agentkit import fstree
from agentkit.agent import lifecycle
from agentkit.agent.result import VerifyResult
from agentkit.appspec import events as ev
from agentkit.errors import BadInput, Terminated
from agentkit.report import junit, verify_json, verify_text


def deployment_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


def _events(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ev.ORDERED]
    if unknown:
        raise BadInput(f"--events: unknown lifecycle event(s) {', '.join(unknown)}; use "
                       f"{', '.join(ev.ORDERED)}.")
    return names


def _bundle_env(url: str | None) -> tuple[tuple[str, str], ...]:
    if not url:
        return ()
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise BadInput(f"--s3 {url}: expected s3://BUCKET/KEY.")
    bucket, key = url[5:].split("/", 1)
    return (("BUNDLE_BUCKET", bucket), ("BUNDLE_KEY", key))


def _options(args: argparse.Namespace, archive: str, work: str) -> lifecycle.Options:
    masked = tuple(sorted({os.path.realpath(p) for p in (work, args.state_dir, args.keep) if p}))
    return lifecycle.Options(
        archive=archive, bundle_type=args.type, generation=args.agent,
        file_exists_behavior=args.file_exists_behavior, group_id=args.deployment_group,
        deployment_id=deployment_id(), load_balancer=args.load_balancer,
        install=not args.no_install, hooks=args.hooks, network=args.network,
        events=_events(args.events), application_name=args.application_name,
        group_name=args.deployment_group_name, bundle_env=_bundle_env(args.s3),
        digests=args.format == "json",  # only the JSON tree shows digests
        paths=args.format == "json", env_from_caller=args.env_from_caller,
        max_disk=args.max_disk, max_procs=args.max_procs, masked=masked)


def _work_dir(args: argparse.Namespace) -> tuple[str, bool]:
    """The throw-away root, and whether to delete it afterwards."""
    for flag, path in (("--state-dir", args.state_dir), ("--keep", args.keep)):
        if path:
            os.makedirs(path, exist_ok=True)
            if not os.path.isdir(path):
                raise BadInput(f"{path}: {flag} must be a directory.")
            return path, False
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


def run(args: argparse.Namespace) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a Jenkins abort: clean up as for Ctrl-C
        signal.signal(sig, _terminate)
    for path in [args.archive, *([args.previous] if args.previous else [])]:
        if not os.path.exists(path):
            raise BadInput(f"{path}: no such file or directory. Give a .tar, .tar.gz/.tgz, "
                           ".zip or a bundle directory.")
    work, temporary = _work_dir(args)
    result: VerifyResult | None = None
    try:
        with _exclusive(work):
            previous = None
            if args.previous:
                previous = lifecycle.run(_options(args, args.previous, work), work)
            result = lifecycle.run(_options(args, args.archive, work), work)
            _write(args, result, previous, work)  # the tree and changes are read from `work`
    finally:
        if temporary:
            if result is not None and result.members > SMALL:
                _discard_later(work)  # nobody waits for tens of thousands of files to go
            else:
                fstree.remove_tree(work)
    return exit_code(result)


EXIT_UNDETERMINED = 4


def exit_code(result: VerifyResult) -> int:
    """0: the deployment would succeed; 1: it would fail, or a finding is an error; 4: verify
    could not run everything here (hooks not run, or refused for a lack of privilege of its
    box) and nothing it ran failed."""
    if result.failure is not None or result.errors:
        return 1
    return EXIT_UNDETERMINED if result.undetermined else 0


@contextlib.contextmanager
def _exclusive(work: str) -> Iterator[None]:
    """One verify at a time in a --state-dir (or --keep) directory: two would interleave
    their deployments in one deployment root and sandbox."""
    with open(os.path.join(work, ".agentkit-lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(f"{work}: another agentkit verify is using this directory right now. "
                           "Wait for it to finish, or give this run another --state-dir/--keep "
                           "directory.") from None
        yield


def _write(args: argparse.Namespace, result: VerifyResult, previous: VerifyResult | None,
           work: str) -> None:
    """The report, whole or not at all: rendered into a file first, then copied out."""
    if args.junit:
        _replace(args.junit, junit.render(result))
    if args.format == "json":
        with tempfile.TemporaryFile("w+", dir=work, encoding="utf-8") as out:
            verify_json.write(out, result, previous)
            out.seek(0)
            shutil.copyfileobj(out, sys.stdout, 1 << 20)
    else:
        sys.stdout.write(verify_text.render(result, previous))
    sys.stdout.flush()


def _replace(path: str, text: str) -> None:
    """Write a file by rename: a reader never sees half of it."""
    tmp = f"{path}.agentkit-tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
