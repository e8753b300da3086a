"""`agentkit bundle [DIR] -o app.tgz`: a reproducible revision archive of a tree."""

from __future__ import annotations

import argparse
import os
import sys

from agentkit import digests
from agentkit.bundle import reproducible
from agentkit.errors import BadInput

# links out of the tree and links to directories: reproducible.walk refuses them itself, in
# words of its own (and --allow-external-links keeps the first kind on purpose)
_LINKS = ("AK506", "AK510", "AK513")


def _refuse_lint_errors(directory: str) -> None:
    """lint's checks of the tree (appspec, agentkit.yml, hook scripts, sources, links): an
    archive the agent would fail on is refused as a link out of the tree is, with the way
    past it named. Agent 1.x's reading, lint's default."""
    from agentkit.commands import lint
    from agentkit.report.lint_text import render_finding

    found = [f for f in lint.lint_path(directory, "1").findings
             if f.is_error and f.code not in _LINKS]
    if found:
        shown = "\n".join(render_finding(f) for f in found)
        raise BadInput(f"{directory}: lint finds {len(found)} error(s) the deployment would "
                       f"fail on, so bundle refuses to package it:\n{shown}\nFix them "
                       f"(`agentkit lint {directory}` checks again), or pass "
                       "--allow-lint-errors to package it anyway.")


def run(args: argparse.Namespace) -> int:
    top = os.path.abspath(args.directory)
    if not os.path.isdir(top):
        raise BadInput(f"{args.directory}: not a directory; give the tree to bundle (the "
                       "directory holding appspec.yml).")
    if not any(os.path.isfile(os.path.join(top, n)) for n in ("appspec.yml", "appspec.yaml")):
        raise BadInput(f"{args.directory}: no appspec.yml at its top; the agent looks for it "
                       "there (agentkit appspec generate writes one).")
    out = os.path.abspath(args.output)
    if out == top or out.startswith(top.rstrip("/") + "/"):
        raise BadInput(f"{args.output}: inside the tree being bundled; write it elsewhere.")
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise BadInput(f"{args.output}: the directory {parent} does not exist; create it first "
                       f"(mkdir -p {parent}) or write the archive elsewhere.")
    mtime = reproducible.source_date(top, args.mtime)
    members = reproducible.walk(top, args.allow_external_links)
    if not getattr(args, "allow_lint_errors", False):
        _refuse_lint_errors(args.directory)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:  # a half-written archive never takes the name
        with open(tmp, "wb") as f:
            write = reproducible.write_zip if args.format == "zip" else reproducible.write_tgz
            count = write(f, members, mtime)
        os.replace(tmp, out)
    except OSError as exc:
        raise BadInput(f"{args.output}: cannot be written ({exc.strerror}); check the "
                       "directory's permissions and free space, or write the archive "
                       "elsewhere.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sys.stdout.write(f"{out}: {count} member(s), mtime {mtime}, sha256 "
                     f"{digests.file_sha256(out)}\n")
    return 0
