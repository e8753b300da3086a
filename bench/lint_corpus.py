"""Time `agentkit lint` on the 150 corpus files against the obvious baseline.

Baseline: a fresh Python that only parses the same files with PyYAML (what any YAML-based
linter must pay). Both run as whole processes, several times, best time kept.
Usage: python bench/lint_corpus.py [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "appspec-corpus" / "files"
BASELINE = ("import sys, yaml\n"
            "L = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n"
            "for p in sys.argv[1:]:\n"
            "    try: yaml.load(open(p, encoding='utf-8').read(), Loader=L)\n"
            "    except yaml.YAMLError: pass\n")


def best(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = [str(p) for p in sorted(CORPUS.iterdir())]
    lint = best([sys.executable, "-m", "agentkit", "lint", "--format", "json", *files], args.runs)
    base = best([sys.executable, "-c", BASELINE, *files], args.runs)
    print(f"files: {len(files)}")
    print(f"agentkit lint (both agent models, all rules): {lint:.3f} s")
    print(f"baseline (python + PyYAML parse only):       {base:.3f} s")
    print(f"ratio: {lint / base:.2f}x   budget: 2 s -> {'OK' if lint < 2 else 'OVER'}")
    return 0 if lint < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
