"""`agentkit lint PATH...`: every problem in each appspec, as the selected agent sees it; for
a bundle directory also its content (verify's bundle checks: hook scripts, `files` sources,
links); and the hooks' agentkit.yml next to the appspec, judged against it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import replace

from agentkit.appspec import ruby
from agentkit.appspec.check import LintResult, lint_source
from agentkit.appspec.locate import locate
from agentkit.appspec.model import AppSpec
from agentkit.appspec.rules import RULES
from agentkit.bundle import archive, checks
from agentkit.errors import BadInput
from agentkit.findings import ERROR, Finding
from agentkit.report import colour, github, lint_json, lint_text, sarif
from agentkit.report.colour import Paint

CONFIG_NAME = "agentkit.yml"


def _sources(bundle: str, appspec_path: str, spec: AppSpec,
             generation: str) -> Iterator[Finding]:
    """`files` sources the bundle lacks: Install's copy fails on them (installer.rb: a
    source that is not a directory is copied as a file, FileUtils.copy opens it)."""
    for i, mapping in enumerate(spec.files):
        source = ruby.file_join(bundle, mapping.source)
        if os.path.lexists(source):
            continue
        rule = RULES["AK507"]
        yield Finding(ERROR, "AK507", appspec_path, mapping.line, None,
                      f"files[{i}] > source: {mapping.source} is not in the bundle",
                      rule.hint, rule.agent_message(generation, {
                          "path": ruby.file_join(os.path.abspath(bundle), mapping.source)}))


def _bundle(bundle: str, appspec_path: str, spec: AppSpec,
            generation: str) -> list[Finding]:
    """What verify's bundle checks say of the unpacked bundle (lifecycle.py#check_bundle),
    on the directory as it is: each hook script (once, naming every event that lists it),
    the sources, the links."""
    out = list(checks.scripts(bundle, bundle, spec.hooks, generation))
    out += _sources(bundle, appspec_path, spec, generation)
    out += checks.tree(bundle, bundle)
    return out


ARCHIVES = {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz", "tar": "tar", "zip": "zip"}


def _not_an_archive(path: str) -> None:
    """An archive given to lint is a mistake worth its own words, not "not UTF-8 text"."""
    if not os.path.isfile(path):
        return
    kind = archive.content_kind(path)
    if kind in ARCHIVES:
        raise BadInput(f"{path}: a {ARCHIVES[kind]} archive, not an appspec file. lint reads "
                       "appspec files and bundle directories; `agentkit verify "
                       f"{path}` reads archives (it unpacks them as the agent does).")


def lint_path(path: str, generation: str) -> LintResult:
    _not_an_archive(path)
    located = locate(path, generation)
    if located.source is None:
        assert located.bundle_finding is not None
        f = located.bundle_finding
        result = LintResult(f.path, generation, "rejected", f.agent_message, (f,), None)
    else:
        result = lint_source(located.source, generation)
        if located.bundle_finding is not None:
            result = replace(result, agent_verdict="rejected",
                             findings=(located.bundle_finding, *result.findings),
                             agent_error=result.agent_error or
                             located.bundle_finding.agent_message)
    extra: list[Finding] = []
    if os.path.isdir(path) and result.appspec is not None:
        extra += _bundle(path, result.path, result.appspec, generation)
    config = os.path.join(path if os.path.isdir(path) else os.path.dirname(path), CONFIG_NAME)
    if os.path.isfile(config):
        from agentkit.hooks import config_lint

        extra += config_lint.findings(config, result.appspec, result.path)
    return replace(result, findings=(*result.findings, *extra)) if extra else result


APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")


def bundles_of(changed: list[str]) -> list[str]:
    """--changed: the bundle directory of each changed file, the nearest directory at or
    above it that holds an appspec (not above the working directory for a relative path, as
    pre-commit passes them), each once. A file of no bundle has none: nothing to check."""
    out: list[str] = []
    for path in changed:
        here = path if os.path.isdir(path) else os.path.dirname(path)
        while True:
            if any(os.path.isfile(os.path.join(here or os.curdir, n)) for n in APPSPEC_NAMES):
                bundle = here or os.curdir
                if bundle not in out:
                    out.append(bundle)
                break
            if here in ("", os.curdir, os.sep):
                break
            here = os.path.dirname(here)
    return out


def run(args: argparse.Namespace) -> int:
    paths = bundles_of(args.paths) if getattr(args, "changed", False) else args.paths
    results = [lint_path(p, args.agent) for p in paths]
    if args.format == "json":
        sys.stdout.write(lint_json.render(results))
    elif args.format == "sarif":
        sys.stdout.write(sarif.render_lint(results))
    elif args.format == "github":
        sys.stdout.write(github.render_lint(results))
    else:
        sys.stdout.write(lint_text.render(results, Paint(colour.wanted(sys.stdout))))
    failed = any(r.errors for r in results) or (args.strict and any(r.warnings for r in results))
    return 1 if failed else 0
