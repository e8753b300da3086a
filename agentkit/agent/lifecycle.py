"""One deployment, event by event, as the agent runs it (deployer.rb / command_executor.rb).

Part 1 of verify: DownloadBundle and Install are simulated in full; hook events are listed
with the revision they would run from, and `skipped` when they have scripts (hooks run in part
2). Every path in the result is shown as on an instance (AGENT_ROOT for the deployment root).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from agentkit import beneath, fstree, proc
from agentkit.agent import (
    config,
    environment,
    event_plan,
    hookbox,
    layout,
    linked_dirs,
    member_paths,
    outcome,
    revision_appspec,
    runner,
    service_findings,
    shared_writes,
)
from agentkit.agent.event_plan import IN_PLACE, REPLACEMENT, event_names
from agentkit.agent.installer import Installer, InstallError
from agentkit.agent.layout import Deployment
from agentkit.agent.result import (
    NOT_RUN,
    SUCCEEDED,
    UNDETERMINED,
    UNKNOWN_ERROR,
    EventRun,
    Failure,
    Nodes,
    ScriptRun,
    Service,
    VerifyResult,
)
from agentkit.agent.sandbox import Sandbox
from agentkit.appspec import events as ev
from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.locate import found_below
from agentkit.appspec.model import AppSpec, Script
from agentkit.appspec.rules import RULES
from agentkit.box.client import BoxError
from agentkit.bundle import checks
from agentkit.bundle.unpack import Unpacked, script_rel, unpack
from agentkit.errors import BadInput
from agentkit.findings import ERROR, Finding

AGENT_ROOT = config.DEFAULT_ROOT
LOG_KEPT = 1 << 20  # the report keeps this much of the end of scripts.log
PLATFORM = "linux"  # the agent modelled runs on Linux: it refuses `os: windows` (AK111)
NOT_FOUND = ("The CodeDeploy agent did not find an AppSpec file within the unpacked revision "
             "directory at revision-relative path \"{name}\". The revision was unpacked to "
             "directory \"{archive}\", and the AppSpec file was expected but not found at path "
             "\"{archive}/{name}\". Consult the AWS CodeDeploy Appspec documentation for "
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
    load_balancer: bool = True  # codedeploy-local runs the traffic hooks (deployer.rb)
    install: bool = True
    hooks: str = "sandbox"  # sandbox, host or skip
    network: bool = False
    events: tuple[str, ...] = ()  # a subset, as codedeploy-local --events
    application_name: str = "agentkit-verify"
    group_name: str = "LocalFleet"
    bundle_env: tuple[tuple[str, str], ...] = ()  # BUNDLE_* of an S3 revision
    digests: bool = True  # hash files while unpacking (the JSON tree shows them)
    paths: bool = True  # list the tree and the changes (else: only count the changes)
    env_from_caller: bool = False  # hooks get verify's environment, not the agent's
    max_disk: int = hookbox.DEFAULT_MAX_DISK  # bytes hooks may write; scripts.log's cap
    max_procs: int = hookbox.DEFAULT_MAX_PROCS
    masked: tuple[str, ...] = ()  # verify's own directories, hidden from hooks
    appspec_name: str = "appspec.yml"  # the deployment's AppSpecFilename
    agent_root: str = AGENT_ROOT  # the agent's :root_dir: (its configuration file)
    max_revisions: int = config.DEFAULT_MAX_REVISIONS
    ignore_stop_failures: bool = False  # the previous revision's ApplicationStop may fail
    deployment: str = IN_PLACE  # or a blue/green deployment's REPLACEMENT or ORIGINAL instance
    image: str = ""  # the instance's root file system (a directory); "": this machine's /
    image_notes: tuple[str, ...] = ()  # what unpacking it left out
    # told what verify starts doing, and its time limit: the progress line on a terminal
    on_phase: Callable[[str, float | None], None] = lambda _what, _limit: None


class _Run:
    def __init__(self, opts: Options, work: str) -> None:
        self.opts = opts
        self.dep = Deployment(os.path.join(work, "deployment-root"), opts.group_id,
                              opts.deployment_id)
        self.previous = self.dep.previous_successful_dir()
        if opts.deployment == REPLACEMENT and self.previous is not None:
            raise BadInput(f"{work} holds an earlier revision of deployment group "
                           f"{opts.group_id}, but a blue/green replacement instance is "
                           "launched new, with none: verify it without --previous and with a "
                           "fresh --state-dir (or none), or use --instance original for what "
                           "the instances that have that revision run.")
        self.dep.create()
        self.sandbox = Sandbox(os.path.join(work, "sandbox"), opts.image or "/")
        self.findings: list[Finding] = []
        self.notes: list[str] = list(opts.image_notes)
        self.lint: LintResult | None = None
        self.previous_spec: AppSpec | None = None  # as the previous revision's hooks read it
        self.unpacked: Unpacked | None = None
        self.failure: Failure | None = None
        self.work = work
        self.skip_reason: str | None = None  # why hooks are not run at all
        self.hookbox: hookbox.HookBox | None = None
        self.services: list[Service] = []
        self.at_validate: dict[str, tuple[str, ...]] | None = None  # unit -> listening
        self.undetermined: str | None = None  # why the prediction is not complete
        self.stopped: str | None = None  # why the later hook events are not run

    def _ask_services(self) -> list[dict[str, Any]] | None:
        """The units the box's systemctl touched ([] when no box ever started), or None
        (said in a note) when the box could not answer."""
        if self.hookbox is None or self.hookbox.box is None:
            return []
        try:
            return self.hookbox.services()
        except (OSError, ValueError, BoxError) as exc:
            self.notes.append(f"the services of the box could not be read: {exc}")
            return None

    def read_services(self) -> None:
        """The services the hooks started end with the box: read them first. Only after the
        events ran to their end: a box stopped mid-hook (a signal) is not asked anything."""
        units = self._ask_services()
        self.services = [Service.from_box(u, self.at_validate) for u in units or []]

    def listening_now(self) -> None:
        """What each service listens on as ValidateService begins: the agent runs it at once,
        without waiting for a service to come up."""
        units = self._ask_services()
        if units is not None:
            self.at_validate = {str(u.get("unit")): tuple(u.get("listening", []))
                                for u in units}

    def close_box(self) -> None:
        if self.hookbox is not None:
            self.hookbox.close()

    def whole_log(self) -> str:
        """scripts.log for the report: its last LOG_KEPT bytes."""
        try:
            raw, size = beneath.tail_beneath(self.dep.root, self.dep.scripts_log, 0, LOG_KEPT)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return f"[scripts.log not read: {exc.strerror}]\n"
        text = raw.decode("utf-8", "replace")
        if size > len(raw):
            text = f"[... the first {size - len(raw)} bytes of scripts.log are not shown]\n" + \
                text[text.find("\n") + 1:]
        return text

    def shown(self, text: str) -> str:
        return text.replace(self.dep.root, self.opts.agent_root)

    def fail(self, event: str, message: str, code: str = UNKNOWN_ERROR) -> EventRun:
        self.failure = Failure(event, code, self.shown(message))
        return EventRun(event, "failed", "current", note=self.shown(message))

    # --- the events --------------------------------------------------------------------------
    def run(self) -> list[EventRun]:
        out = []
        for name in event_names(self.opts.load_balancer, self.opts.events,
                                self.opts.deployment):
            if self.failure is not None:
                out.append(EventRun(name, "skipped", _revision(name),
                                    note=f"not run: the deployment failed in "
                                         f"{self.failure.event}"))
                continue
            out.append(self.event(name))
        return out

    def event(self, name: str) -> EventRun:
        self.opts.on_phase(_phase(name, self.opts.archive), None)
        if name == "DownloadBundle":
            return self.download()
        if name == "Install":
            return self.install()
        if name in ev.FROM_PREVIOUS:
            ran = self.previous_hooks(name)
            if name == "ApplicationStop" and self.opts.ignore_stop_failures and \
                    self.failure is not None:
                # the deployment's ignoreApplicationStopFailures: the service goes on
                self.notes.append(f"ApplicationStop failed ({self.failure.message}); the "
                                  "deployment goes on: --ignore-application-stop-failures")
                self.failure = None
                return dataclasses.replace(ran, status="failed (ignored)")
            return ran
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
        path = os.path.join(archive, self.opts.appspec_name)
        if not os.path.isfile(path):
            if self.opts.generation == "2":
                return EventRun(name, "succeeded", "previous", note="the previous revision's "
                                "archive is gone: agent 2.x treats the event as a no-op")
            return self.fail(name, NOT_FOUND.format(archive=archive, name=self.opts.appspec_name))
        found = revision_appspec.read(archive, self.opts.appspec_name, self.shown(path))
        if found.source is None:  # a hook of that revision made it a link out of the archive
            self.stopped = self.undetermined = (f"{self.shown(path)} is a link out of its "
                                                "archive: what the agent reads is not known")
            return EventRun(name, NOT_RUN, "previous", note=self.undetermined)
        result = lint_source(found.source, self.opts.generation, PLATFORM, self.opts.events)
        self.previous_spec = result.appspec
        return self.hooks(name, "previous", result.appspec, archive)

    # --- running hooks -----------------------------------------------------------------------
    def hooks(self, name: str, revision: str, spec: AppSpec | None, archive: str) -> EventRun:
        scripts = spec.hooks.get(name, ()) if spec else ()
        if name in ev.AGENT_INTERNAL or not scripts:
            return EventRun(name, "succeeded", revision)  # nothing runs, nothing is logged
        mode = self.hook_mode()
        if mode == "sandbox" and (why := self.cannot_show(name, scripts)) is not None:
            return EventRun(name, NOT_RUN, revision, note=f"{name} has scripts; not run here: "
                            f"{why}")
        if mode == "skip":
            return EventRun(name, "skipped", revision, note=f"{name} has scripts; hooks "
                            f"are not run ({self.skip_reason})")
        if mode == "not-run":
            return EventRun(name, NOT_RUN, revision, note=f"{name} has scripts; not run "
                            f"here: {self.skip_reason}")
        in_box = mode == "sandbox"
        shown_archive = self.shown(archive) if in_box else archive
        env = environment.hook_env(self.lifecycle_env(name), self.opts.env_from_caller,
                                   self.opts.generation)
        jobs = [runner.Job(name, shown_archive, s.location, s.timeout, s.runas, s.sudo, env,
                           self.opts.generation) for s in scripts]
        start = self.log_event(name)
        self.opts.on_phase(f"{name}: {', '.join(j.location for j in jobs)}",
                           sum(j.timeout for j in jobs))
        if in_box and name == "ValidateService":
            self.listening_now()
        if in_box:
            try:
                results, changed = self.box().run(jobs, self.shown(self.dep.scripts_log),
                                                  self.opts.max_disk)
            except hookbox.Unavailable as exc:
                self.no_box(str(exc))
                return EventRun(name, NOT_RUN, revision, note=f"{name} has scripts; not run "
                                f"here: {self.skip_reason}")
            self.notes += self.box().take_notes()
            if changed:
                self.notes.append(f"{name} changed {len(changed)} path(s) outside the "
                                  f"deployment root, e.g. {', '.join(changed[:3])}")
        else:
            results = self.run_on_host(jobs)
        failed = next((r for r in results if r.error_code != SUCCEEDED), None)
        if failed is None:
            return EventRun(name, "succeeded", revision, tuple(results))
        if in_box and self.hookbox is not None and \
                (why := self.hookbox.unshown or
                 hookbox.limit_reason(failed, self.hookbox.spec.idmap)) is not None:
            self.undetermined = why
            self.stopped = f"{failed.location} failed in {name} for want of privilege"
            return EventRun(name, UNDETERMINED, revision, tuple(results), note=why)
        tail = _tail(self.log_since(start), self.opts.generation)
        self.failure = Failure(name, failed.error_code, failed.message, failed.location, tail)
        return EventRun(name, "failed", revision, tuple(results), note=failed.message)

    def run_on_host(self, jobs: list[runner.Job]) -> list[ScriptRun]:
        """--hooks host: for real, on this machine (a disposable one, as codedeploy-local)."""
        results: list[ScriptRun] = []
        with open(self.dep.scripts_log, "a", encoding="utf-8", errors="surrogateescape") as f:
            log = runner.CappedLog(f, self.opts.max_disk)
            for job in jobs:
                results.append(runner.run(job, log))
                if results[-1].error_code != SUCCEEDED:
                    break
        return results

    def log_event(self, name: str) -> int:
        """The event's first line in scripts.log; returns where the event starts in it."""
        try:
            fd = beneath.open_beneath(self.dep.root, self.dep.scripts_log,
                                      os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except OSError as exc:
            self.notes.append(f"scripts.log could not be written ({exc.strerror}): a hook "
                              "removed or replaced it; verify does not follow links out of "
                              "its root")
            return 0
        with os.fdopen(fd, "a", encoding="utf-8") as log:
            runner.log_line(log, f"LifecycleEvent - {name}\n")
            return log.tell()

    def log_since(self, start: int) -> str:
        try:
            raw, _ = beneath.tail_beneath(self.dep.root, self.dep.scripts_log, start, 1 << 16)
        except OSError:
            return ""
        return raw.decode("utf-8", "replace")

    def box(self) -> hookbox.HookBox:
        if self.hookbox is None:
            spec = hookbox.build_spec(
                os.path.join(self.work, "box"), self.dep.root, self.opts.masked,
                self.destinations(), self.opts.network, self.opts.max_disk, self.opts.max_procs,
                self.opts.agent_root, self.opts.image)
            os.makedirs(spec.work, exist_ok=True)
            self.hookbox = hookbox.HookBox(self.sandbox, spec)
        return self.hookbox

    def destinations(self) -> tuple[str, ...]:
        spec = self.lint.appspec if self.lint else None
        return tuple(sorted({os.path.normpath(m.destination) for m in spec.files
                             if m.destination.startswith("/")})) if spec else ()

    def no_box(self, reason: str) -> None:
        self.skip_reason = reason
        self.undetermined = f"hooks were not run: {reason}"
        self.notes.append(f"hooks not run here: {reason}. The Install verdict stands; "
                          "use --hooks host on a disposable machine")

    def hook_mode(self) -> str:
        """skip, host, sandbox, or not-run (no box here; self.skip_reason says why)."""
        if self.opts.hooks == "skip":
            self.skip_reason = "--hooks skip"
            return "skip"
        if self.opts.hooks == "host":
            return "host"
        if self.skip_reason is None:
            reason = hookbox.unavailable()
            if reason is not None:
                self.no_box(reason)
        return "not-run" if self.skip_reason else "sandbox"

    def cannot_show(self, name: str, scripts: tuple[Script, ...]) -> str | None:
        """Why this event's scripts cannot run in this box as they would on an instance."""
        if self.stopped is not None:
            return f"verify could not tell how an earlier event ends here ({self.stopped})"
        idmap = self.box().spec.idmap
        users = sorted({s.runas for s in scripts if s.runas and s.runas != "root"})
        if users and idmap.kind == "single":
            self.stopped = f"{name} runs scripts as {', '.join(users)}"
            self.undetermined = f"{self.stopped}: {idmap.note}"
            return self.undetermined
        return None

    def lifecycle_env(self, event: str) -> dict[str, str]:
        return {"LIFECYCLE_EVENT": event, "DEPLOYMENT_ID": self.opts.deployment_id,
                "APPLICATION_NAME": self.opts.application_name,
                "DEPLOYMENT_GROUP_NAME": self.opts.group_name,
                "DEPLOYMENT_GROUP_ID": self.opts.group_id, **dict(self.opts.bundle_env)}

    def download(self) -> EventRun:
        if os.path.lexists(self.dep.archive):
            raise AssertionError("deployment ids are unique per run")
        self.prune()
        self.unpacked = unpack(self.opts.archive, self.dep.archive, self.opts.bundle_type,
                               self.opts.generation, lean=not self.opts.install,
                               db=self.sandbox.db, hashing=self.opts.digests,
                               limit=self.opts.max_disk)
        self.findings += [replace(f, path=self.shown(f.path)) for f in self.unpacked.findings]
        if self.unpacked.failure is not None:
            return self.fail("DownloadBundle", self.unpacked.failure)
        if self.unpacked.too_big is not None:
            self.stopped = self.undetermined = self.unpacked.too_big
            return EventRun("DownloadBundle", UNDETERMINED, "current", note=self.stopped)
        if self.unpacked.stripped:
            self.notes.append(f"the archive's single top-level directory "
                              f"{self.unpacked.stripped}/ holds the appspec: the agent strips it")
        if self.opts.generation == "2" and not os.path.isfile(
                os.path.join(self.dep.archive, self.opts.appspec_name)):
            return self.fail("DownloadBundle", "The deployment failed because the specified "
                             "file does not exist at the expected location: "
                             f"{self.dep.archive}/{self.opts.appspec_name}.")
        layout.write_marker(self.dep.most_recent, self.dep.dir)
        self.check_bundle()
        return EventRun("DownloadBundle", "succeeded", "current")

    def member_findings(self) -> list[Finding]:
        unpacked = self.unpacked
        directory = unpacked is not None and unpacked.declared == "directory"
        return member_paths.relabel(
            self.findings, self.shown(self.dep.archive),
            unpacked.stripped if unpacked else None,
            member_paths.git_prefix(self.opts.archive) if directory else None)

    def prune(self) -> None:
        """DownloadBundle first deletes the oldest deployments past :max_revisions:."""
        old = self.dep.old_revisions(self.opts.max_revisions)
        for path in old:
            fstree.remove_tree(path)
        if old:
            names = ", ".join(os.path.basename(p) for p in old)
            self.notes.append(f"DownloadBundle deletes {len(old)} earlier deployment(s) of "
                              f"this group, keeping :max_revisions: {self.opts.max_revisions} "
                              f"with this one (never the last successful): {names}")

    def check_bundle(self) -> None:
        archive = self.dep.archive
        shown_root = self.shown(archive)
        # Install's order (command_executor.rb#app_spec_real_path): the deployment's name,
        # then appspec.yaml, then appspec.yml
        for name in dict.fromkeys((self.opts.appspec_name, "appspec.yaml", "appspec.yml")):
            path = os.path.join(archive, name)
            if not os.path.lexists(path):
                continue
            if checks.outside(archive, path) is None and not os.path.isfile(path):
                continue  # a directory, or a link dangling inside the bundle: not a file
            found = revision_appspec.read(archive, name, self.shown(path))
            if found.finding is not None:
                self.findings.append(found.finding)
                self.stopped = self.undetermined = (f"{name} is a file of the instance, not "
                                                    "of the bundle (AK152)")
                break
            assert found.source is not None
            self.lint = lint_source(found.source, self.opts.generation, PLATFORM,
                                    self.opts.events)
            self.findings += list(self.lint.findings)
            if self.lint.agent_verdict == "unknown":
                self.stopped = self.undetermined = f"verify does not read {name} (AK106)"
            break
        else:
            name = self.opts.appspec_name
            self.findings.append(Finding(ERROR, "AK150", name, None, None,
                                         f"no {name} (or appspec.yaml, appspec.yml) at the "
                                         f"bundle root{found_below(archive)}",
                                         f"put {name} at the root of the bundle",
                                         NOT_FOUND.format(archive=shown_root, name=name)))
        spec = self.lint.appspec if self.lint else None
        unwritten = self.unpacked.listing if self.unpacked else None
        if spec is not None:  # --no-install read some past its size limit: not checked
            self.findings += checks.scripts(
                archive, shown_root, spec.hooks, self.opts.generation,
                lambda loc: unwritten is not None and script_rel(loc) in unwritten)
        self.findings += checks.tree(archive, shown_root, unwritten, self.opts.image)

    def parse_for_hooks(self) -> EventRun | None:
        """BeforeInstall's hook executor parses appspec.yml first (hook_executor.rb)."""
        if self.stopped is not None and (self.lint is None or
                                         self.lint.agent_verdict == "unknown"):
            return EventRun("BeforeInstall", NOT_RUN, "current", note=self.stopped)
        yml = os.path.join(self.dep.archive, self.opts.appspec_name)
        if not os.path.isfile(yml) and not (self.opts.generation == "2" and self.lint):
            return self.fail("BeforeInstall", NOT_FOUND.format(archive=self.dep.archive,
                                                                name=self.opts.appspec_name))
        if self.lint is not None and self.lint.agent_verdict == "rejected":
            return self.fail("BeforeInstall", self.lint.agent_error or "invalid appspec")
        return None

    def install(self) -> EventRun:
        spec = self.lint.appspec if self.lint else None
        if spec is None and self.stopped is not None:
            return EventRun("Install", NOT_RUN, "current", note=self.stopped)
        if spec is None or not self.opts.install:
            note = "skipped: --no-install" if not self.opts.install else "no appspec"
            return EventRun("Install", "skipped", "current", note=note)
        installer = Installer(self.sandbox, self.dep, self.opts.generation,
                              self.opts.file_exists_behavior,
                              self.unpacked.listing.prefix if self.unpacked else "")
        destinations = tuple(os.path.normpath(m.destination) for m in spec.files)
        self.shared_writes(destinations, cleanup=True)
        removed = installer.apply_cleanup()
        if installer.cleanup_link is not None:
            self.notes.append(f"the cleanup file of the previous revision was a link to "
                              f"{installer.cleanup_link} (a hook made it): the agent would "
                              "remove what that file lists; verify did not read it")
        if installer.cleanup_special is not None:
            self.notes.append(f"the cleanup file of the previous revision was "
                              f"{installer.cleanup_special} (a hook made it): the agent would "
                              "block on it or read a device; verify did not read it")
        if removed:
            self.notes.append(f"Install removed {removed} path(s) of the previous revision "
                              "(its cleanup file) before installing this one")
        try:
            plan = installer.plan(spec)
            for tally in plan.outside.tallies.values():
                # Install's account replaces the bundle check's estimate of the same link
                self.findings = [f for f in self.findings if not (
                    f.code == "AK510" and f.path == self.shown(tally.link))]
                self.findings.append(Finding(
                    ERROR, "AK510", self.shown(tally.link), None, None,
                    linked_dirs.describe(tally),
                    "do not ship links to directories; link shared storage in AfterInstall "
                    "(agentkit hook link-shared)"))
                if tally.unreadable and self.undetermined is None:
                    # the tree lacks what the agent, as root, copies: the hooks after
                    # Install would look at a different tree than the instance's
                    self.stopped = self.undetermined = (
                        f"Install copies {tally.target} (the bundle's link "
                        f"{os.path.relpath(tally.link, self.dep.archive)}), and this user "
                        f"may not read {tally.unreadable_at or tally.target}: what the "
                        "instance gets there is not known; run verify as root for a verdict")
            installer.execute(plan)
        except (InstallError, OSError) as exc:
            self.sandbox.save()
            message = str(exc)
            if self.opts.generation == "2":
                message = f"Install failed for group {self.opts.group_id}: {message}"
            return self.fail("Install", message)
        self.sandbox.save()
        self.shared_writes(destinations, cleanup=False)
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


    def shared_writes(self, destinations: tuple[str, ...], cleanup: bool) -> None:
        """AK515 for what the cleanup file lists (before the previous one is applied, or
        as this Install wrote it) that goes through a link into shared storage."""
        path = self.dep.cleanup_file
        try:  # a link, FIFO or device a hook made there is the note of apply_cleanup
            fd = beneath.open_regular(path)
        except OSError:
            return
        with os.fdopen(fd, encoding="utf-8", errors="surrogateescape") as f:
            lines = (line.rstrip("\n") for line in f)
            found = shared_writes.scan(self.sandbox, (p for p in lines if p.startswith("/")),
                                       destinations)
        self.findings += [Finding(ERROR, "AK515", t.link, None, None,
                                  shared_writes.message(t, cleanup), RULES["AK515"].hint)
                          for t in found]


def _phase(name: str, archive: str) -> str:
    if name == "DownloadBundle":
        try:
            size = f", {os.path.getsize(archive) / 1e6:.1f} MB"
        except OSError:
            size = ""
        return f"DownloadBundle: reading {os.path.basename(archive)}{size}"
    if name == "Install":
        return "Install: copying the files to their destinations"
    return name


def _revision(name: str) -> str:
    return "previous" if name in ev.FROM_PREVIOUS else "current"


_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)


def _tail(event_log: str, generation: str) -> str:
    """What the console shows of a failed script: the event's last ~2 KB of log, without
    timestamps for 1.x (hook_executor.rb), with them for 2.x (bounded_fifo_vec.rs)."""
    text = event_log if generation == "2" else _STAMP.sub("", event_log)
    return text[-2048:]


def run(opts: Options, work: str) -> VerifyResult:
    # absolute: files of the deployment root are opened below it by their full path (a
    # relative --state-dir made every scripts.log write fail, a note per hook event)
    work = os.path.abspath(work)
    state = _Run(opts, work)
    try:
        try:
            events = state.run()
            state.read_services()
            state.notes += service_findings.notes(tuple(state.services))
        finally:  # the deployment has ended: so has every process of its box
            state.close_box()
        # an original blue/green instance installs nothing: its tree is the earlier revision's
        spec = state.lint.appspec if state.lint else state.previous_spec
        log = state.whole_log()
        bundle_type = state.unpacked.declared if state.unpacked else \
            (opts.bundle_type or _sniffed_type(opts.archive))
        state.sandbox.save()
        sb = state.sandbox
        spills = os.path.join(work, f"report-{opts.deployment_id}")
        skipped: list[str] = []
        if opts.paths:
            tree = outcome.spill(spills + ".tree", outcome.tree(sb, spec, skipped))
            changes = outcome.spill(spills + ".changes", outcome.changes(sb, opts.digests))
        else:
            tree, changes = Nodes(), Nodes(counts=outcome.change_counts(sb))
        untouched = outcome.untouched_summary(sb, skipped)
        if sb.unseen:
            state.notes.append(unseen_note(sorted(sb.unseen)))
    finally:
        state.sandbox.close()
    return VerifyResult(
        archive=os.path.abspath(opts.archive), agent=opts.generation, bundle_type=bundle_type,
        deployment_group_id=opts.group_id, deployment_id=opts.deployment_id,
        failure=state.failure, events=tuple(events),
        findings=tuple(sorted(state.member_findings() + service_findings.findings(
            tuple(state.services), spec, tuple(e.name for e in events), opts.appspec_name,
            opts.image, _validate_texts(state.dep.archive, spec)), key=Finding.sort_key)),
        tree=tree, changes=changes, scripts_log=log, notes=tuple(state.notes),
        undetermined=state.undetermined if state.failure is None else None,
        members=state.unpacked.members if state.unpacked else 0,
        modelled=event_plan.modelled(opts.deployment, opts.events, opts.load_balancer,
                                     opts.image),
        untouched=untouched, services=tuple(state.services))


def unseen_note(paths: list[str]) -> str:
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return (f"this user may not look into {shown}: verify assumed the deployment finds "
            "nothing of its own there. The agent, as root, sees what is there; run verify as "
            "root to check those paths too")


def _sniffed_type(path: str) -> str:
    """The bundle type of an archive that was never unpacked (the previous revision's
    ApplicationStop failed first), for the report's header."""
    from agentkit.bundle import archive
    from agentkit.errors import BadArchive

    try:
        return archive.bundle_type(archive.content_kind(path))
    except BadArchive:
        return "unknown"


def _validate_texts(archive: str, spec: AppSpec | None) -> tuple[str, ...]:
    """The ValidateService scripts of the bundle, as text (what AK703 looks at), read
    without following a link out of the archive and never from a FIFO."""
    if spec is None:
        return ()
    texts = []
    for hook in spec.hooks.get("ValidateService", ()):
        try:
            texts.append(beneath.read_beneath(archive, hook.location.lstrip("/"), 1 << 20)
                         .decode("utf-8", "replace"))
        except (OSError, ValueError):
            continue
    return tuple(texts)
