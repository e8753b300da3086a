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


def run(args: argparse.Namespace) -> int:
    cfg = deploy_config.parse(args.config)
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(args.config)),
                                      "appspec.yml")
    text = generate.render(cfg, os.path.basename(args.config))
    if args.check:
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
