"""Overhead of running hooks in verify's sandbox, per event, against the hooks' own time.

A bundle whose every scripted event sleeps S seconds: verify --hooks sandbox takes
(verify --hooks skip) + E x S + overhead; prints the overhead per event (budget: well under
one second). Usage (as root): python bench/hooks_overhead.py [--sleep 0.5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time

EVENTS = ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")


def bundle(root: str, seconds: float) -> str:
    src = os.path.join(root, "src")
    os.makedirs(src)
    with open(os.path.join(src, "hook.sh"), "w") as f:
        f.write(f"#!/bin/sh\nsleep {seconds}\n")
    os.chmod(os.path.join(src, "hook.sh"), 0o755)
    hooks = "".join(f"  {e}:\n    - location: hook.sh\n" for e in EVENTS)
    with open(os.path.join(src, "appspec.yml"), "w") as f:
        f.write(f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: "
                f"{root}/installed\nhooks:\n{hooks}")
    path = os.path.join(root, "bundle.tgz")
    with tarfile.open(path, "w:gz") as t:
        t.add(src, arcname=".")
    return path


def best(cmd: list[str], runs: int) -> float:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return min(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        path = bundle(root, args.sleep)
        base = [sys.executable, "-m", "agentkit", "verify", "--format", "json"]
        skip = best([*base, "--hooks", "skip", path], args.runs)
        boxed = best([*base, "--hooks", "sandbox", path], args.runs)
        host = best([*base, "--hooks", "host", path], args.runs)
    hooks_time = len(EVENTS) * args.sleep
    print(f"{len(EVENTS)} events x {args.sleep} s of hook time = {hooks_time:.2f} s")
    print(f"verify --hooks skip     {skip:.2f} s")
    print(f"verify --hooks host     {host:.2f} s  overhead/event "
          f"{(host - skip - hooks_time) / len(EVENTS):.3f} s")
    print(f"verify --hooks sandbox  {boxed:.2f} s  overhead/event "
          f"{(boxed - skip - hooks_time) / len(EVENTS):.3f} s (budget: well under 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
