"""One deployment, event by event, as the agent runs it (deployer.rb / command_executor.rb).

Part 1 of verify: DownloadBundle and Install are simulated in full; hook events are listed
with the revision they would run from, and `skipped` when they have scripts (hooks run in part
2). Every path in the result is shown as on an instance (AGENT_ROOT for the deployment root).
"""

from __future__ import annotations

import heapq
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from agentkit import proc
from agentkit.agent import hookbox, layout, runner
from agentkit.agent.installer import Installer, InstallError
from agentkit.agent.layout import Deployment
from agentkit.agent.result import (
    SUCCEEDED,
    UNKNOWN_ERROR,
    EventRun,
    Failure,
    Node,
    Nodes,
    VerifyResult,
)
from agentkit.agent.sandbox import Entry, Sandbox
from agentkit.appspec import events as ev
from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.locate import read_source
from agentkit.appspec.model import AppSpec
from agentkit.bundle import checks
from agentkit.bundle.unpack import Unpacked, script_rel, unpack
from agentkit.findings import ERROR, Finding

AGENT_ROOT = "/opt/codedeploy-agent/deployment-root"
NOT_FOUND = ("The CodeDeploy agent did not find an AppSpec file within the unpacked revision "
             "directory at revision-relative path \"appspec.yml\". The revision was unpacked to "
             "directory \"{archive}\", and the AppSpec file was expected but not found at path "
             "\"{archive}/appspec.yml\". Consult the AWS CodeDeploy Appspec documentation for "
             "more information at "
             "http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html")


@dataclass(frozen=True)
class Options:
    archive: str
    bundle_type: str | None = None
    generation: str = "1"
    file_exists_behavior: str = "DISALLOW"
    group_id: str = "dg-verify"
    deployment_id: str = "d-VERIFY0001"
    load_balancer: bool = False
    install: bool = True
    hooks: str = "sandbox"  # sandbox, host or skip
    network: bool = False
    events: tuple[str, ...] = ()  # a subset, as codedeploy-local --events
    application_name: str = "agentkit-verify"
    group_name: str = "LocalFleet"
    bundle_env: tuple[tuple[str, str], ...] = ()  # BUNDLE_* of an S3 revision
    digests: bool = True  # hash files while unpacking (the JSON tree shows them)


def event_names(load_balancer: bool, subset: tuple[str, ...] = ()) -> list[str]:
    names = [n for n in ev.ORDERED if n not in ("BeforeBlockTraffic", "AfterBlockTraffic",
                                                "BeforeAllowTraffic", "AfterAllowTraffic")]
    if load_balancer:
        names = ["BeforeBlockTraffic", "AfterBlockTraffic", *names, "BeforeAllowTraffic",
                 "AfterAllowTraffic"]
    if subset:  # local mode always runs DownloadBundle and Install (deployer.rb)
        names = [n for n in ev.ORDERED if n in subset or n in ev.AGENT_INTERNAL]
    return names


class _Run:
    def __init__(self, opts: Options, work: str) -> None:
        self.opts = opts
        self.dep = Deployment(os.path.join(work, "deployment-root"), opts.group_id,
                              opts.deployment_id)
        self.dep.create()
        self.sandbox = Sandbox(os.path.join(work, "sandbox"))
        self.previous = self.dep.previous_successful_dir()
        self.findings: list[Finding] = []
        self.lint: LintResult | None = None
        self.unpacked: Unpacked | None = None
        self.failure: Failure | None = None
        self.notes: list[str] = []
        self.work = work
        self.skip_reason: str | None = None

    def shown(self, text: str) -> str:
        return text.replace(self.dep.root, AGENT_ROOT)

    def fail(self, event: str, message: str, code: str = UNKNOWN_ERROR) -> EventRun:
        self.failure = Failure(event, code, self.shown(message))
        return EventRun(event, "failed", "current", note=self.shown(message))

    # --- the events --------------------------------------------------------------------------
    def run(self) -> list[EventRun]:
        out = []
        for name in event_names(self.opts.load_balancer, self.opts.events):
            if self.failure is not None:
                out.append(EventRun(name, "skipped", _revision(name),
                                    note=f"not run: the deployment failed in "
                                         f"{self.failure.event}"))
                continue
            out.append(self.event(name))
        return out

    def event(self, name: str) -> EventRun:
        if name == "DownloadBundle":
            return self.download()
        if name == "Install":
            return self.install()
        if name in ev.FROM_PREVIOUS:
            return self.previous_hooks(name)
        if name == "BeforeInstall" and (failed := self.parse_for_hooks()) is not None:
            return failed
        return self.hooks(name, "current", self.lint.appspec if self.lint else None,
                          self.dep.archive)

    def previous_hooks(self, name: str) -> EventRun:
        if self.previous is None:
            return EventRun(name, "succeeded", "previous",
                            note="no earlier successful revision of this deployment group: "
                                 "nothing to run")
        archive = os.path.join(self.previous, "deployment-archive")
        path = os.path.join(archive, "appspec.yml")
        if not os.path.isfile(path):
            if self.opts.generation == "2":
                return EventRun(name, "succeeded", "previous", note="the previous revision's "
                                "archive is gone: agent 2.x treats the event as a no-op")
            return self.fail(name, NOT_FOUND.format(archive=archive))
        result = lint_source(read_source(path), self.opts.generation)
        return self.hooks(name, "previous", result.appspec, archive)

    # --- running hooks -----------------------------------------------------------------------
    def hooks(self, name: str, revision: str, spec: AppSpec | None, archive: str) -> EventRun:
        scripts = spec.hooks.get(name, ()) if spec else ()
        if name in ev.AGENT_INTERNAL or not scripts:
            return EventRun(name, "succeeded", revision)  # nothing runs, nothing is logged
        mode = self.hook_mode()
        if mode == "skip":
            return EventRun(name, "skipped", revision, note=f"{name} has scripts; hooks "
                            f"are not run ({self.skip_reason})")
        in_box = mode == "sandbox"
        shown_archive = self.shown(archive) if in_box else archive
        jobs = [runner.Job(name, shown_archive, s.location, s.timeout, s.runas, s.sudo,
                           self.hook_env(name), self.opts.generation) for s in scripts]
        log_path = self.dep.scripts_log
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "a") as log:
            runner.log_line(log, f"LifecycleEvent - {name}\n")
        start = len(_read(log_path))
        if in_box:
            results, changed = hookbox.run_event(self.sandbox, self.work, self.dep.root, jobs,
                                                 self.shown(log_path), self.opts.network)
            if changed:
                self.notes.append(f"{name} changed {len(changed)} path(s) outside the "
                                  f"deployment root, e.g. {', '.join(changed[:3])}")
        else:
            with open(log_path, "a") as log:
                results = []
                for job in jobs:
                    results.append(runner.run(job, log))
                    if results[-1].error_code != SUCCEEDED:
                        break
        failed = next((r for r in results if r.error_code != SUCCEEDED), None)
        if failed is None:
            return EventRun(name, "succeeded", revision, tuple(results))
        tail = _tail(_read(log_path)[start:], self.opts.generation)
        self.failure = Failure(name, failed.error_code, failed.message, failed.location, tail)
        return EventRun(name, "failed", revision, tuple(results), note=failed.message)

    def hook_mode(self) -> str:
        if self.opts.hooks == "sandbox" and self.skip_reason is None:
            reason = hookbox.unavailable()
            if reason is not None:
                self.skip_reason = reason
                self.notes.append(f"hooks not run: {reason} (use --hooks host on a "
                                  "disposable machine)")
        if self.opts.hooks == "skip":
            self.skip_reason = "--hooks skip"
        return "skip" if self.skip_reason else self.opts.hooks

    def hook_env(self, event: str) -> dict[str, str]:
        return proc.env_with(LIFECYCLE_EVENT=event, DEPLOYMENT_ID=self.opts.deployment_id,
                             APPLICATION_NAME=self.opts.application_name,
                             DEPLOYMENT_GROUP_NAME=self.opts.group_name,
                             DEPLOYMENT_GROUP_ID=self.opts.group_id, **dict(self.opts.bundle_env))

    def download(self) -> EventRun:
        if os.path.lexists(self.dep.archive):
            raise AssertionError("deployment ids are unique per run")
        self.unpacked = unpack(self.opts.archive, self.dep.archive, self.opts.bundle_type,
                               self.opts.generation, lean=not self.opts.install,
                               db=self.sandbox.db, hashing=self.opts.digests)
        self.findings += [replace(f, path=self.shown(f.path)) for f in self.unpacked.findings]
        if self.unpacked.failure is not None:
            return self.fail("DownloadBundle", self.unpacked.failure)
        if self.unpacked.stripped:
            self.notes.append(f"the archive's single top-level directory "
                              f"{self.unpacked.stripped}/ holds the appspec: the agent strips it")
        if self.opts.generation == "2" and not os.path.isfile(
                os.path.join(self.dep.archive, "appspec.yml")):
            return self.fail("DownloadBundle", "The deployment failed because the specified "
                             "file does not exist at the expected location: "
                             f"{self.dep.archive}/appspec.yml.")
        layout.write_marker(self.dep.most_recent, self.dep.dir)
        self.check_bundle()
        return EventRun("DownloadBundle", "succeeded", "current")

    def check_bundle(self) -> None:
        archive = self.dep.archive
        shown_root = self.shown(archive)
        for name in ("appspec.yml", "appspec.yaml"):
            path = os.path.join(archive, name)
            if os.path.isfile(path):
                self.lint = lint_source(read_source(path), self.opts.generation)
                self.findings += [replace(f, path=self.shown(f.path))
                                  for f in self.lint.findings]
                break
        else:
            self.findings.append(Finding(ERROR, "AK150", f"{shown_root}/appspec.yml", None, None,
                                         "no appspec.yml (or appspec.yaml) at the bundle root",
                                         "put appspec.yml at the root of the bundle",
                                         NOT_FOUND.format(archive=shown_root)))
        spec = self.lint.appspec if self.lint else None
        unwritten = self.unpacked.listing if self.unpacked else None
        for event, scripts in (spec.hooks.items() if spec else ()):
            for s in scripts:
                if unwritten is not None and script_rel(s.location) in unwritten:
                    continue  # --no-install read it past its size limit: nothing to check
                self.findings += checks.script(archive, shown_root, s.location, event,
                                               self.opts.generation)
        self.findings += checks.tree(archive, shown_root, unwritten)

    def parse_for_hooks(self) -> EventRun | None:
        """BeforeInstall's hook executor parses appspec.yml first (hook_executor.rb)."""
        yml = os.path.join(self.dep.archive, "appspec.yml")
        if not os.path.isfile(yml) and not (self.opts.generation == "2" and self.lint):
            return self.fail("BeforeInstall", NOT_FOUND.format(archive=self.dep.archive))
        if self.lint is not None and self.lint.agent_verdict == "rejected":
            return self.fail("BeforeInstall", self.lint.agent_error or "invalid appspec")
        return None

    def install(self) -> EventRun:
        spec = self.lint.appspec if self.lint else None
        if spec is None or not self.opts.install:
            note = "skipped: --no-install" if not self.opts.install else "no appspec"
            return EventRun("Install", "skipped", "current", note=note)
        installer = Installer(self.sandbox, self.dep, self.opts.generation,
                              self.opts.file_exists_behavior,
                              self.unpacked.listing.prefix if self.unpacked else "")
        removed = installer.apply_cleanup()
        if removed:
            self.notes.append(f"Install removed {removed} path(s) of the previous revision "
                              "(its cleanup file) before installing this one")
        try:
            plan = installer.plan(spec)
            for link, target in plan.outside_links:
                self.findings.append(Finding(
                    ERROR, "AK510", self.shown(link), None, None,
                    f"the agent copies everything under {target} (a linked directory outside "
                    "the bundle) onto the instance; verify did not copy it",
                    "do not ship links to directories; link shared storage in AfterInstall"))
            installer.execute(plan)
        except (InstallError, OSError) as exc:
            self.sandbox.save()
            message = str(exc)
            if self.opts.generation == "2":
                message = f"Install failed for group {self.opts.group_id}: {message}"
            return self.fail("Install", message)
        self.sandbox.save()
        if installer.semanage:
            here = "" if proc.which("semanage") else " (this machine has no semanage)"
            self.notes.append(f"Install sets an SELinux context on {installer.semanage} path(s) "
                              "with `semanage fcontext -a` and `restorecon`; verify does not run "
                              "them. On an instance without SELinux's tools (semanage is in "
                              "policycoreutils-python-utils) the agent's Install fails there "
                              f"with 'contains an error in the settings for the context "
                              f"parameter'{here}")
        layout.write_marker(self.dep.last_successful, self.dep.dir)
        return EventRun("Install", "succeeded", "current",
                        note=f"{installer.executed} instruction(s) executed")


def _revision(name: str) -> str:
    return "previous" if name in ev.FROM_PREVIOUS else "current"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)


def _tail(event_log: str, generation: str) -> str:
    """What the console shows of a failed script: the event's last ~2 KB of log, without
    timestamps for 1.x (hook_executor.rb), with them for 2.x (bounded_fifo_vec.rs)."""
    text = event_log if generation == "2" else _STAMP.sub("", event_log)
    return text[-2048:]


# --- what the deployment left behind -------------------------------------------------------
# Both lists are produced while the report is written, never held: a bundle's tree is tens of
# thousands of paths. Both come out sorted: the walk emits paths in order, the store keeps
# the touched ones by path.
def _node(sb: Sandbox, entry: Entry, change: str | None = None, digest: bool = True) -> Node:
    return Node(entry.path, entry.type, f"{entry.mode:04o}", entry.target,
                sb.sha_of(entry) if digest else None, f"{entry.uid}:{entry.gid}", change)


def tree(sb: Sandbox, spec: AppSpec | None) -> Iterator[Node]:
    """The final state of everything under every `files` destination, sorted by path."""
    tops: list[str] = []
    for dest in sorted({os.path.normpath(m.destination) for m in spec.files} if spec else ()):
        if not any(dest.startswith(t.rstrip("/") + "/") for t in tops):
            tops.append(dest)  # one inside another is walked with it
    walks = [sb.walk(t) for t in tops]
    for entry in walks[0] if len(walks) == 1 else heapq.merge(*walks, key=lambda e: e.path):
        yield _node(sb, entry)


def change_counts(sb: Sandbox) -> dict[str, int]:
    """How many paths changes() lists of each kind, for the text report: the bundle files in
    a directory this machine does not have are all created, counted by directory."""
    counts: Counter[str] = Counter()
    new_dirs = []
    for parent, count in sb.recorded_parents():
        if _host_lstat(parent, set()) is None:
            counts["created"] += count
            new_dirs.append(parent)
    counts.update(node.change for node in changes(sb, False, tuple(new_dirs))
                  if node.change is not None)
    return dict(counts)


def changes(sb: Sandbox, digests: bool = True, skip_recorded_in: tuple[str, ...] = ()
            ) -> Iterator[Node]:
    """Every path the deployment created, modified or deleted, against this machine; without
    `digests` (the text report only counts them) no file is read back to hash it."""
    absent: set[str] = set()  # host paths known not to exist: nothing below them does
    for path, entry in sb.touched(skip_recorded_in):
        host = _host_lstat(path, absent)
        if entry is None:
            if host is not None:
                yield Node(path, _kind(host), f"{stat.S_IMODE(host.st_mode):04o}", None, None,
                           None, "deleted")
            continue
        if host is None:
            yield _node(sb, entry, "created", digests)
        elif _differs(sb, entry, host):
            yield _node(sb, entry, "modified", digests)


def _host_lstat(path: str, absent: set[str]) -> os.stat_result | None:
    """lstat on the host; a bundle's new directories hold thousands of new paths, and one
    failed lookup of their parent answers for all of them (the paths come sorted)."""
    if path[:path.rfind("/")] in absent:
        found = None
    else:
        try:
            found = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            found = None
    if found is None:
        if len(absent) >= 4096:
            absent.clear()
        absent.add(path)
    return found


def _kind(st: os.stat_result) -> str:
    return ("symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
            else "file" if stat.S_ISREG(st.st_mode) else "other")


def _differs(sb: Sandbox, entry: Entry, host: os.stat_result) -> bool:
    if entry.type != _kind(host) or entry.mode != stat.S_IMODE(host.st_mode):
        return True
    if (entry.uid, entry.gid) != (host.st_uid, host.st_gid):
        return True
    if entry.type == "symlink":
        return entry.target != os.readlink(entry.path)
    if entry.type == "file":
        return entry.where == "upper" and sb.sha_of(entry) != sb.digest(entry.path, host)
    return False


def run(opts: Options, work: str) -> VerifyResult:
    state = _Run(opts, work)
    events = state.run()
    spec = state.lint.appspec if state.lint else None
    log = ""
    if os.path.isfile(state.dep.scripts_log):
        with open(state.dep.scripts_log, encoding="utf-8", errors="replace") as f:
            log = f.read()
    bundle_type = state.unpacked.declared if state.unpacked else (opts.bundle_type or "")
    state.sandbox.save()
    return VerifyResult(
        archive=os.path.abspath(opts.archive), agent=opts.generation, bundle_type=bundle_type,
        deployment_group_id=opts.group_id, deployment_id=opts.deployment_id,
        failure=state.failure, events=tuple(events),
        findings=tuple(sorted(state.findings, key=Finding.sort_key)),
        tree=Nodes(lambda: tree(state.sandbox, spec)),
        changes=Nodes(lambda: changes(state.sandbox, opts.digests),
                      lambda: change_counts(state.sandbox)),
        scripts_log=log, notes=tuple(state.notes))
