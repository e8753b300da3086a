"""Overhead of running hooks in verify's sandbox, per event, against the hooks' own time.

A bundle whose every scripted event sleeps S seconds: verify --hooks sandbox takes
(verify --hooks skip) + E x S + overhead; prints the overhead per event against running the
same hooks on the host (budget: under the old root-only sandbox's 0.192 s an event). The box
starts once per deployment, so one event shows its whole start-up. Usage (as root or as any
user): python bench/hooks_overhead.py [--sleep 0.5] [--runs 3] [--events 1-4]
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


def bundle(root: str, seconds: float, events: tuple[str, ...]) -> str:
    src = os.path.join(root, "src")
    os.makedirs(src)
    with open(os.path.join(src, "hook.sh"), "w") as f:
        f.write(f"#!/bin/sh\nsleep {seconds}\n")
    os.chmod(os.path.join(src, "hook.sh"), 0o755)
    hooks = "".join(f"  {e}:\n    - location: hook.sh\n" for e in events)
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
    parser.add_argument("--events", type=int, default=4, choices=range(1, 5))
    args = parser.parse_args()
    events = EVENTS[:args.events]
    with tempfile.TemporaryDirectory() as root:
        os.chmod(root, 0o755)
        path = bundle(root, args.sleep, events)
        base = [sys.executable, "-m", "agentkit", "verify", "--format", "json"]
        skip = best([*base, "--hooks", "skip", path], args.runs)
        boxed = best([*base, "--hooks", "sandbox", path], args.runs)
        host = best([*base, "--hooks", "host", path], args.runs)
    n = len(events)
    hooks_time = n * args.sleep
    print(f"as uid {os.getuid()}: {n} event(s) x {args.sleep} s of hook time = "
          f"{hooks_time:.2f} s")
    print(f"verify --hooks skip     {skip:.2f} s")
    print(f"verify --hooks host     {host:.2f} s  overhead/event "
          f"{(host - skip - hooks_time) / n:.3f} s")
    print(f"verify --hooks sandbox  {boxed:.2f} s  overhead/event "
          f"{(boxed - skip - hooks_time) / n:.3f} s (budget: 0.192 s); sandbox/host "
          f"{boxed / host:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
