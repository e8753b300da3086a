"""One deployment, event by event, as the agent runs it (deployer.rb / command_executor.rb).

The lifecycle sequences the events: DownloadBundle and Install are simulated in full
(bundle_check.py judges what DownloadBundle left), hook events run in the box (hookbox.py)
or on this machine, from the revision the agent would take them from. Where the deployment
stops is one value, a Stop (stop.py), carried from event to event. `deployment()` yields the
ended deployment; assemble.py turns it into the result. Every path in the result is shown as
on an instance (AGENT_ROOT for the deployment root).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Callable

from agentkit import events as ev
from agentkit import fstree, proc
from agentkit.agent import agent_yml as config
from agentkit.agent import (
    environment,
    layout,
    linked_dirs,
    revision_appspec,
    runner,
    shared_writes,
)
from agentkit.agent.event_plan import REPLACEMENT, event_names
from agentkit.agent.installer import Installer, InstallError
from agentkit.agent.layout import Deployment
from agentkit.agent.script_run import SUCCEEDED, UNKNOWN_ERROR, ScriptRun
from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.model import AppSpec, Script
from agentkit.box.errors import BoxError
from agentkit.bundle.unpack import Unpacked, unpack
from agentkit.errors import BadInput, MachineryFailed
from agentkit.findings import ERROR, Finding
from agentkit.hostview.view import HostView
from agentkit.verify import bundle_check, hookbox, member_paths, scripts_log, service_findings
from agentkit.verify.options import Options
from agentkit.verify.result import (
    NOT_RUN,
    UNDETERMINED,
    EventRun,
    Failure,
    Service,
)
from agentkit.verify.stop import Stop

AGENT_ROOT = config.DEFAULT_ROOT
Progress = Callable[[str, "float | None"], None]
PLATFORM, NOT_FOUND = bundle_check.PLATFORM, bundle_check.NOT_FOUND


class Lifecycle:
    def __init__(self, opts: Options, work: str, progress: Progress) -> None:
        self.opts = opts
        self.events: list[EventRun] = []  # as run, once `run` has returned
        self.progress = progress
        self.dep = Deployment(os.path.join(work, "deployment-root"), opts.agent.group_id,
                              opts.agent.deployment_id)
        self.previous = self.dep.previous_successful_dir()
        if opts.agent.deployment == REPLACEMENT and self.previous is not None:
            raise BadInput(f"{work} holds an earlier revision of deployment group "
                           f"{opts.agent.group_id}, but a blue/green replacement instance is "
                           "launched new, with none: verify it without --previous and with a "
                           "fresh --state-dir (or none), or use --instance original for what "
                           "the instances that have that revision run.")
        self.dep.create()
        self.view = HostView(os.path.join(work, "sandbox"), opts.box.image or "/")
        self.findings: list[Finding] = []
        self.notes: list[str] = list(opts.box.image_notes)
        self.lint: LintResult | None = None
        self.previous_spec: AppSpec | None = None  # as the previous revision's hooks read it
        self.unpacked: Unpacked | None = None
        self.stop = Stop()  # where the deployment stops, as verify runs it (stop.py)
        self.work = work
        self.skip_reason: str | None = None  # why hooks are not run at all
        self.hookbox: hookbox.HookBox | None = None
        self.services: list[Service] = []
        self.at_validate: dict[str, tuple[str, ...]] | None = None  # unit -> listening

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

    def shown(self, text: str) -> str:
        return text.replace(self.dep.root, self.opts.agent.agent_root)

    def fail(self, event: str, message: str, code: str = UNKNOWN_ERROR) -> EventRun:
        self.stop = self.stop.failed(Failure(event, code, self.shown(message)))
        return EventRun(event, "failed", "current", note=self.shown(message))

    # --- the events --------------------------------------------------------------------------
    def run(self) -> list[EventRun]:
        out = []
        for name in event_names(self.opts.agent.load_balancer, self.opts.agent.events,
                                self.opts.agent.deployment):
            if self.stop.failure is not None:
                out.append(EventRun(name, "skipped", _revision(name),
                                    note=f"not run: the deployment failed in "
                                         f"{self.stop.failure.event}"))
                continue
            out.append(self.event(name))
        return out

    def event(self, name: str) -> EventRun:
        self.progress(_phase(name, self.opts.archive), None)
        if name == "DownloadBundle":
            return self.download()
        if name == "Install":
            return self.install()
        if name in ev.FROM_PREVIOUS:
            ran = self.previous_hooks(name)
            if name == "ApplicationStop" and self.opts.agent.ignore_stop_failures and \
                    self.stop.failure is not None:
                # the deployment's ignoreApplicationStopFailures: the service goes on
                self.notes.append(f"ApplicationStop failed ({self.stop.failure.message}); the "
                                  "deployment goes on: --ignore-application-stop-failures")
                self.stop = self.stop.forgiven()
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
        path = os.path.join(archive, self.opts.agent.appspec_name)
        if not os.path.isfile(path):
            if self.opts.agent.generation == "2":
                return EventRun(name, "succeeded", "previous", note="the previous revision's "
                                "archive is gone: agent 2.x treats the event as a no-op")
            return self.fail(name, NOT_FOUND.format(archive=archive,
                                                    name=self.opts.agent.appspec_name))
        found = revision_appspec.read(archive, self.opts.agent.appspec_name, self.shown(path))
        if found.source is None:  # a hook of that revision made it a link out of the archive
            why = f"{self.shown(path)} is a link out of its archive: what the agent reads is " \
                "not known"
            self.stop = self.stop.halt(why)
            return EventRun(name, NOT_RUN, "previous", note=why)
        result = lint_source(found.source, self.opts.agent.generation, PLATFORM,
                             self.opts.agent.events)
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
        env = environment.hook_env(self.lifecycle_env(name), self.opts.agent.env_from_caller,
                                   self.opts.agent.generation)
        jobs = [runner.Job(name, shown_archive, s.location, s.timeout, s.runas, s.sudo, env,
                           self.opts.agent.generation) for s in scripts]
        start, note = scripts_log.begin_event(self.dep, name)
        self.notes += [note] if note else []
        self.progress(f"{name}: {', '.join(j.location for j in jobs)}",
                           sum(j.timeout for j in jobs))
        if in_box and name == "ValidateService":
            self.listening_now()
        if in_box:
            try:
                results, changed = self.box().run(jobs, self.shown(self.dep.scripts_log),
                                                  self.opts.box.max_disk)
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
            self.stop = self.stop.halt(f"{failed.location} failed in {name} for want of "
                                       "privilege", undetermined=why)
            return EventRun(name, UNDETERMINED, revision, tuple(results), note=why)
        tail = scripts_log.tail(scripts_log.since(self.dep, start), self.opts.agent.generation)
        self.stop = self.stop.failed(Failure(name, failed.error_code, failed.message,
                                             failed.location, tail))
        return EventRun(name, "failed", revision, tuple(results), note=failed.message)

    def run_on_host(self, jobs: list[runner.Job]) -> list[ScriptRun]:
        """--hooks host: for real, on this machine (a disposable one, as codedeploy-local)."""
        results: list[ScriptRun] = []
        with open(self.dep.scripts_log, "a", encoding="utf-8", errors="surrogateescape") as f:
            log = runner.CappedLog(f, self.opts.box.max_disk)
            for job in jobs:
                results.append(runner.run(job, log))
                if results[-1].error_code != SUCCEEDED:
                    break
        return results

    def box(self) -> hookbox.HookBox:
        if self.hookbox is None:
            spec = hookbox.build_spec(
                os.path.join(self.work, "box"), self.dep.root, self.opts.box.masked,
                self.destinations(), self.opts.box.network, self.opts.box.max_disk,
                self.opts.box.max_procs, self.opts.agent.agent_root, self.opts.box.image)
            os.makedirs(spec.work, exist_ok=True)
            self.hookbox = hookbox.HookBox(self.view, spec)
        return self.hookbox

    def destinations(self) -> tuple[str, ...]:
        spec = self.lint.appspec if self.lint else None
        return tuple(sorted({os.path.normpath(m.destination) for m in spec.files
                             if m.destination.startswith("/")})) if spec else ()

    def no_box(self, reason: str) -> None:
        self.skip_reason = reason
        self.stop = self.stop.incomplete(f"hooks were not run: {reason}")
        self.notes.append(f"hooks not run here: {reason}. The Install verdict stands; "
                          "use --hooks host on a disposable machine")

    def hook_mode(self) -> str:
        """skip, host, sandbox, or not-run (no box here; self.skip_reason says why)."""
        if self.opts.box.hooks == "skip":
            self.skip_reason = "--hooks skip"
            return "skip"
        if self.opts.box.hooks == "host":
            return "host"
        if self.skip_reason is None:
            reason = hookbox.unavailable()
            if reason is not None:
                self.no_box(reason)
        return "not-run" if self.skip_reason else "sandbox"

    def cannot_show(self, name: str, scripts: tuple[Script, ...]) -> str | None:
        """Why this event's scripts cannot run in this box as they would on an instance."""
        if self.stop.halted is not None:
            return ("verify could not tell how an earlier event ends here "
                    f"({self.stop.halted})")
        idmap = self.box().spec.idmap
        users = sorted({s.runas for s in scripts if s.runas and s.runas != "root"})
        if users and idmap.kind == "single":
            halted = f"{name} runs scripts as {', '.join(users)}"
            self.stop = self.stop.halt(halted, undetermined=f"{halted}: {idmap.note}")
            return self.stop.undetermined
        return None

    def lifecycle_env(self, event: str) -> dict[str, str]:
        return {"LIFECYCLE_EVENT": event, "DEPLOYMENT_ID": self.opts.agent.deployment_id,
                "APPLICATION_NAME": self.opts.agent.application_name,
                "DEPLOYMENT_GROUP_NAME": self.opts.agent.group_name,
                "DEPLOYMENT_GROUP_ID": self.opts.agent.group_id, **dict(self.opts.agent.bundle_env)}

    def download(self) -> EventRun:
        if os.path.lexists(self.dep.archive):
            raise AssertionError("deployment ids are unique per run")
        self.prune()
        self.unpacked = unpack(self.opts.archive, self.dep.archive, self.opts.agent.bundle_type,
                               self.opts.agent.generation, lean=not self.opts.agent.install,
                               db=self.view.db, hashing=self.opts.report.digests,
                               limit=self.opts.box.max_disk)
        self.findings += [replace(f, path=self.shown(f.path)) for f in self.unpacked.findings]
        if self.unpacked.failure is not None:
            return self.fail("DownloadBundle", self.unpacked.failure)
        if self.unpacked.too_big is not None:
            self.stop = self.stop.halt(self.unpacked.too_big)
            return EventRun("DownloadBundle", UNDETERMINED, "current", note=self.unpacked.too_big)
        if self.unpacked.stripped:
            self.notes.append(f"the archive's single top-level directory "
                              f"{self.unpacked.stripped}/ holds the appspec: the agent strips it")
        if self.opts.agent.generation == "2" and not os.path.isfile(
                os.path.join(self.dep.archive, self.opts.agent.appspec_name)):
            return self.fail("DownloadBundle", "The deployment failed because the specified "
                             "file does not exist at the expected location: "
                             f"{self.dep.archive}/{self.opts.agent.appspec_name}.")
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
        old = self.dep.old_revisions(self.opts.agent.max_revisions)
        for path in old:
            fstree.remove_tree(path)
        if old:
            names = ", ".join(os.path.basename(p) for p in old)
            self.notes.append(f"DownloadBundle deletes {len(old)} earlier deployment(s) of "
                              "this group, keeping :max_revisions: "
                              f"{self.opts.agent.max_revisions} "
                              f"with this one (never the last successful): {names}")

    def check_bundle(self) -> None:
        """The appspec Install reads, and the bundle's scripts and tree, judged."""
        checked = bundle_check.check(
            self.dep.archive, self.shown, self.opts.agent.appspec_name,
            self.opts.agent.generation, self.opts.agent.events,
            self.unpacked.listing if self.unpacked else None, self.opts.box.image)
        self.lint = checked.lint
        self.findings += checked.findings
        if checked.halt is not None:
            self.stop = self.stop.halt(checked.halt)

    def parse_for_hooks(self) -> EventRun | None:
        """BeforeInstall's hook executor parses appspec.yml first (hook_executor.rb)."""
        if self.stop.halted is not None and (self.lint is None or
                                         self.lint.agent_verdict == "unknown"):
            return EventRun("BeforeInstall", NOT_RUN, "current", note=self.stop.halted)
        yml = os.path.join(self.dep.archive, self.opts.agent.appspec_name)
        if not os.path.isfile(yml) and not (self.opts.agent.generation == "2" and self.lint):
            return self.fail("BeforeInstall", NOT_FOUND.format(archive=self.dep.archive,
                                                                name=self.opts.agent.appspec_name))
        if self.lint is not None and self.lint.agent_verdict == "rejected":
            return self.fail("BeforeInstall", self.lint.agent_error or "invalid appspec")
        return None

    def install(self) -> EventRun:
        spec = self.lint.appspec if self.lint else None
        if spec is None and self.stop.halted is not None:
            return EventRun("Install", NOT_RUN, "current", note=self.stop.halted)
        if spec is None or not self.opts.agent.install:
            note = "skipped: --no-install" if not self.opts.agent.install else "no appspec"
            return EventRun("Install", "skipped", "current", note=note)
        installer = Installer(self.view, self.dep, self.opts.agent.generation,
                              self.opts.agent.file_exists_behavior,
                              self.unpacked.listing.prefix if self.unpacked else "")
        destinations = tuple(os.path.normpath(m.destination) for m in spec.files)
        self.findings += shared_writes.findings(self.view, self.dep.cleanup_file, destinations,
                                                cleanup=True)
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
                if tally.unreadable and self.stop.undetermined is None:
                    # the tree lacks what the agent, as root, copies: the hooks after
                    # Install would look at a different tree than the instance's
                    self.stop = self.stop.halt(
                        f"Install copies {tally.target} (the bundle's link "
                        f"{os.path.relpath(tally.link, self.dep.archive)}), and this user "
                        f"may not read {tally.unreadable_at or tally.target}: what the "
                        "instance gets there is not known; run verify as root for a verdict")
            installer.execute(plan)
        except OSError as exc:
            self.view.save()
            if self.view.failed_here(exc):
                raise MachineryFailed(
                    f"verify's own copy of the instance under {self.work} failed while Install "
                    f"ran ({exc.strerror or exc}"
                    f"{': ' + str(exc.filename) if exc.filename else ''}). That says nothing "
                    "of the deployment: give verify a work directory it may write (free space, "
                    "nothing immutable or read-only in it; or --state-dir elsewhere) and run "
                    "it again.") from None
            # reading the revision, as the agent reads it (a link loop in the archive)
            return self.fail("Install", self._install_message(str(exc)))
        except InstallError as exc:
            self.view.save()
            return self.fail("Install", self._install_message(str(exc)))
        self.view.save()
        self.findings += shared_writes.findings(self.view, self.dep.cleanup_file, destinations,
                                                cleanup=False)
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


    def _install_message(self, message: str) -> str:
        if self.opts.agent.generation == "2":
            return f"Install failed for group {self.opts.agent.group_id}: {message}"
        return message


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





def no_progress(_what: str, _limit: float | None) -> None:
    """A run that shows no progress line."""


@contextlib.contextmanager
def deployment(opts: Options, work: str, progress: Progress = no_progress
               ) -> Iterator[Lifecycle]:
    """One deployment run event by event to its end (or its stop); yields it ended, its box
    gone, while its host view is open for what the report reads of it (assemble.py).
    `progress` is told what verify starts doing, and its time limit (the progress line on a
    terminal)."""
    # absolute: files of the deployment root are opened below it by their full path (a
    # relative --state-dir made every scripts.log write fail, a note per hook event)
    state = Lifecycle(opts, os.path.abspath(work), progress)
    try:
        try:
            state.events = state.run()
            state.read_services()
            state.notes += service_findings.notes(tuple(state.services))
        finally:  # the deployment has ended: so has every process of its box
            state.close_box()
        state.view.save()
        yield state
    finally:
        state.view.close()
