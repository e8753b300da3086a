"""The result of one deployment, assembled once it has ended: the tree it left under the
`files` destinations and every path it changed (spilled to files in the work directory, a
bundle can have 80,000), its findings, notes and services: the one value every report
renders."""

from __future__ import annotations

import os

from agentkit import beneath
from agentkit.agent import event_plan
from agentkit.appspec.model import AppSpec
from agentkit.findings import Finding
from agentkit.verify import outcome, scripts_log, service_findings
from agentkit.verify.lifecycle import Lifecycle
from agentkit.verify.result import Nodes, VerifyResult


def result(ended: Lifecycle, work: str) -> VerifyResult:
    opts = ended.opts
    # an original blue/green instance installs nothing: its tree is the earlier revision's
    spec = ended.lint.appspec if ended.lint else ended.previous_spec
    log = scripts_log.whole(ended.dep)
    bundle_type = ended.unpacked.declared if ended.unpacked else \
        (opts.agent.bundle_type or _sniffed_type(opts.archive))
    view = ended.view
    spills = os.path.join(work, f"report-{opts.agent.deployment_id}")
    skipped: list[str] = []
    if opts.report.paths:
        tree = outcome.spill(spills + ".tree", outcome.tree(view, spec, skipped))
        changes = outcome.spill(spills + ".changes", outcome.changes(view, opts.report.digests))
    else:
        tree, changes = Nodes(), Nodes(counts=outcome.change_counts(view))
    untouched = outcome.untouched_summary(view, skipped)
    notes = list(ended.notes)
    if view.unseen:
        notes.append(unseen_note(sorted(view.unseen)))
    events = tuple(ended.events)
    return VerifyResult(
        archive=os.path.abspath(opts.archive), agent=opts.agent.generation,
        bundle_type=bundle_type, deployment_group_id=opts.agent.group_id,
        deployment_id=opts.agent.deployment_id, failure=ended.stop.failure, events=events,
        findings=tuple(sorted(ended.member_findings() + service_findings.findings(
            tuple(ended.services), spec, tuple(e.name for e in events), opts.agent.appspec_name,
            opts.box.image, _validate_texts(ended.dep.archive, spec)), key=Finding.sort_key)),
        tree=tree, changes=changes, scripts_log=log, notes=tuple(notes),
        undetermined=ended.stop.verdict_undetermined,
        members=ended.unpacked.members if ended.unpacked else 0,
        modelled=event_plan.modelled(opts.agent.deployment, opts.agent.events,
                                     opts.agent.load_balancer, opts.box.image),
        untouched=untouched, services=tuple(ended.services))


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
