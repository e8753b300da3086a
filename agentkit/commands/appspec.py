"""`agentkit appspec generate`: appspec.yml from agentkit.yml's `deploy:` section."""

from __future__ import annotations

import argparse
import os
import sys

from agentkit.appspec import deploy_config, generate


def write_atomically(path: str, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` through a temporary file and a rename: never half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _config_errors(config: str, appspec: str) -> bool:
    """--check is a CI gate: agentkit.yml's errors lint reports (keys the hooks reject,
    waits longer than the hook's timeout...) fail it as a drift does, each shown as lint
    shows it. Judged against the appspec as it is, when there is one."""
    from agentkit.appspec.check import lint_source
    from agentkit.errors import FatalError
    from agentkit.hooks import config_lint
    from agentkit.report.lint_text import render_finding
    from agentkit.yamlconf.source import read_source

    spec = None
    if os.path.isfile(appspec):
        try:
            spec = lint_source(read_source(appspec)).appspec
        except FatalError:
            spec = None  # an unreadable appspec: the comparison below says it differs
    errors = [f for f in config_lint.findings(config, spec, appspec) if f.is_error]
    for f in errors:
        sys.stderr.write(render_finding(f) + "\n")
    if errors:
        sys.stderr.write(f"agentkit: {config} has {len(errors)} error(s) (above) that lint "
                         "reports; fix them, then run `agentkit appspec generate` again.\n")
    return bool(errors)


def run(args: argparse.Namespace) -> int:
    cfg = deploy_config.parse(args.config)
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(args.config)),
                                      "appspec.yml")
    text = generate.render(cfg, os.path.basename(args.config))
    if args.check:
        if _config_errors(args.config, out):
            return 1
        try:
            with open(out, encoding="utf-8", newline="") as f:
                same = f.read() == text
        except FileNotFoundError:
            same = False
        if not same:
            sys.stderr.write(f"agentkit: {out} is not what `agentkit appspec generate` writes "
                             f"from {args.config}; run it and commit the result.\n")
            return 1
        return 0
    write_atomically(out, text)
    sys.stdout.write(f"wrote {out}\n")
    return 0
