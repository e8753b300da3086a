"""Hook actions against their obvious baselines, measured in the same run.

  permissions, tree already right   vs  chown -R U:G T && chmod -R u=rwX,go=rX T
  permissions, everything changes   vs  the same commands on an identical fresh tree
  startup: `agentkit hook run` for an event with nothing to do (process start to the point
  where the first action would start) against `python -c pass`
Usage (as root): python bench/hooks_bench.py [--files 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from installed import compile_agentkit

USER = "nobody"
GROUP = "nogroup"


def make_tree(root: str, files: int) -> None:
    for i in range(files):
        d = os.path.join(root, f"d{i % 500:03d}")
        if i < 500:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}"), "w") as f:
            f.write("x")


def wall(cmd: list[str] | str, shell: bool = False) -> float:
    os.sync()
    start = time.perf_counter()
    subprocess.run(cmd, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    compile_agentkit()
    root = tempfile.mkdtemp(prefix="agentkit-hooks-bench-")
    try:
        tree = os.path.join(root, "tree")
        make_tree(tree, args.files)
        cfg = os.path.join(root, "agentkit.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 1\npermissions:\n  - path: {tree}\n    owner: {USER}\n"
                    f"    group: {GROUP}\n    file_mode: '0644'\n    dir_mode: '0755'\n"
                    f"health:\n  file: {root}/health.html\n  drain: {{interval: 0}}\n")
        hook = [sys.executable, "-m", "agentkit", "hook"]
        baseline = f"chown -R {USER}:{GROUP} {tree} && chmod -R u=rwX,go=rX {tree}"
        reset = f"chown -R root:root {tree} && chmod -R 0700 {tree}"
        best = {"right": 1e9, "base_right": 1e9, "change": 1e9, "base_change": 1e9}
        for _ in range(args.runs):
            subprocess.run(reset, shell=True, check=True)
            best["change"] = min(best["change"],
                                 wall([*hook, "permissions", "--config", cfg]))
            best["right"] = min(best["right"], wall([*hook, "permissions", "--config", cfg]))
            best["base_right"] = min(best["base_right"], wall(baseline, shell=True))
            subprocess.run(reset, shell=True, check=True)
            best["base_change"] = min(best["base_change"], wall(baseline, shell=True))
        os.environ["LIFECYCLE_EVENT"] = "BeforeInstall"  # nothing configured for it
        start_hook = min(wall([*hook, "run", "--config", cfg]) for _ in range(7))
        start_py = min(wall([sys.executable, "-c", "pass"]) for _ in range(5))
    finally:
        subprocess.run(["chown", "-R", "root:root", root], check=False)
        shutil.rmtree(root)
    n = args.files
    print(f"permissions on {n} files, already right: {best['right']:.2f} s vs "
          f"chown -R + chmod -R {best['base_right']:.2f} s -> "
          f"{best['right'] / best['base_right']:.2f}x (budget 0.5x)")
    print(f"permissions on {n} files, all change:    {best['change']:.2f} s vs "
          f"chown -R + chmod -R {best['base_change']:.2f} s -> "
          f"{best['change'] / best['base_change']:.2f}x (budget 1.3x)")
    print(f"startup: agentkit hook run (to first action) {start_hook * 1000:.0f} ms "
          f"(python -c pass {start_py * 1000:.0f} ms; budget 200 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
