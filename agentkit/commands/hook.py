"""`agentkit hook ACTION`: the on-instance actions, alone or as LIFECYCLE_EVENT asks (`run`)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Any, TextIO, cast

import structlog

from agentkit import environ
from agentkit import log as logging_setup
from agentkit.errors import BadConfig, HookFailed
from agentkit.hooks import config as config_mod

CONTEXT = ("LIFECYCLE_EVENT", "DEPLOYMENT_ID", "DEPLOYMENT_GROUP_NAME")


def _make_log_dir(parent: Any, name: str) -> None:
    with contextlib.suppress(FileExistsError):
        parent.mkdir(name, 0o755)


def _open_log(path: str) -> IO[str] | None:
    """The hook log, appended to as root: opened through safefs (a link planted at its
    name or on its way in a directory others may write is refused, not followed)."""
    from agentkit.safefs import chase

    try:
        directory, name = chase.locate(path, _make_log_dir)
        with directory:
            fd = directory.open_file(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode=0o644)
        return open(fd, "a", encoding="utf-8")
    except OSError as exc:
        print(f"agentkit: warning: cannot write the hook log {path} ({exc.strerror}); "
              "logging to stdout only", file=sys.stderr)
        return None


class _Console(io.TextIOBase):
    """stdout for the actions' lines. When its reader goes away (`agentkit hook ... | head`)
    the action still runs to its end: a change to the instance is not left half-done, nor
    reported as a crash, because a pipe closed. The first EPIPE points fd 1 at /dev/null (so
    neither this stream nor the interpreter's last flush meets it again) and says once, on
    stderr, where the rest of the lines go."""

    def __init__(self, stream: IO[str], log_file: str | None) -> None:
        super().__init__()
        self.stream = stream
        self.log_file = log_file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    def _gone(self) -> None:
        self.gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        finally:
            os.close(devnull)
        rest = f"only to the hook log {self.log_file}" if self.log_file else "nowhere"
        with contextlib.suppress(OSError):  # stderr gone too: the action still runs on
            print(f"agentkit: stdout was closed; the rest of this action's lines go {rest}",
                  file=sys.stderr, flush=True)


def hook_logger(cfg: config_mod.Config) -> Any:
    json_file = _open_log(cfg.log_file)
    console = None if sys.stdout is None else \
        cast(TextIO, _Console(sys.stdout, cfg.log_file if json_file else None))
    logging_setup.configure(console, json_lines=False, json_file=json_file)
    structlog.contextvars.bind_contextvars(
        **{k.lower(): environ.get(k) for k in CONTEXT if environ.get(k)})
    return logging_setup.get("agentkit.hook")


@contextlib.contextmanager
def failures(name: str) -> Iterator[None]:
    """A file system call that fails under an action (a disk full, a file made immutable,
    another process changing the tree meanwhile) fails it with what and where: the agent
    reports it, and it is not a bug of agentkit's."""
    from agentkit.hooks import refusal
    from agentkit.safefs.dirfd import Tampered

    try:
        yield
    except Tampered as exc:
        raise refusal.failed(f"agentkit {name}", exc) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise HookFailed(
            f"agentkit {name}: {where}{exc.strerror or exc} (errno "
            f"{errno.errorcode.get(exc.errno or 0, exc.errno)}); the action stopped there. "
            "If something else changes this tree at the same time (another deployment, the "
            "application), let it finish and run the deployment again.") from None


def _action(name: str, cfg: config_mod.Config, log: Any, dry_run: bool) -> None:
    with failures(f"hook {name}"):
        _dispatch(name, cfg, log, dry_run)


def _dispatch(name: str, cfg: config_mod.Config, log: Any, dry_run: bool) -> None:
    if name == "release":
        from agentkit.hooks import release
        release.run(cfg, log, dry_run)
    elif name == "link-shared":
        from agentkit.hooks import link_shared
        link_shared.run(cfg, log, dry_run)
    elif name == "permissions":
        from agentkit.hooks import permissions
        permissions.run(cfg, log, dry_run)
    elif name in ("health up", "health down"):
        from agentkit.hooks import health
        (health.up if name == "health up" else health.down)(cfg, log, dry_run)
    elif name == "validate":
        from agentkit.hooks import validate
        validate.run(cfg, log, dry_run)
    elif name == "preflight":
        from agentkit.hooks import preflight
        preflight.run(cfg, log, dry_run, spec=_appspec_next_to(cfg))
    else:
        raise BadConfig(f"unknown action {name!r}")


def _appspec_next_to(cfg: config_mod.Config) -> Any:
    """The bundle's appspec (agentkit.yml sits next to it), as the agent reads it, or None."""
    from agentkit.appspec.check import lint_source
    from agentkit.appspec.locate import read_source

    path = os.path.join(os.path.dirname(os.path.abspath(cfg.path)), "appspec.yml")
    if not os.path.isfile(path):
        return None
    return lint_source(read_source(path)).appspec


def _check_against_appspec(cfg: config_mod.Config, spec: Any) -> None:
    """validate's deadline must end before the agent kills the hook running it (the same
    reckoning as lint's AK601, config_lint.overruns)."""
    if spec is None or cfg.validate is None:
        return
    from agentkit.hooks.config_lint import overruns

    for over in overruns(cfg, spec):
        if not any(w.action == "validate" for w in over.waits):
            continue
        v = cfg.validate
        what = f"validate.deadline ({v.deadline:g} s) plus one try ({v.timeout:g} s)" \
            if len(over.waits) == 1 else \
            f"{' and '.join(w.how for w in over.waits)} ({over.seconds:g} s)"
        raise BadConfig(
            f"{cfg.path}: {what} does not fit in the {over.event} hook's timeout "
            f"({over.limit} s in appspec.yml): the agent would kill validate before it "
            "reports. Lower the deadline or raise the hook's timeout.")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(config_mod.find(args.config))
    if cfg.validate is not None and any("validate" in a for _, a in cfg.events):
        _check_against_appspec(cfg, _appspec_next_to(cfg))  # the linter only when needed
    log = hook_logger(cfg)
    if args.action == "run":
        event = environ.get("LIFECYCLE_EVENT") or None
        if not event:
            raise BadConfig("agentkit hook run: LIFECYCLE_EVENT is not set; the CodeDeploy "
                            "agent sets it. To run one action by hand, name it "
                            "(agentkit hook link-shared ...).")
        actions = cfg.actions_for(event)
        if not actions:
            log.info("nothing to do for this event", configured=[e for e, _ in cfg.events])
        for action in actions:
            _action(action, cfg, log, args.dry_run)
        return 0
    name = f"health {args.direction}" if args.action == "health" else args.action
    _action(name, cfg, log, args.dry_run)
    return 0
