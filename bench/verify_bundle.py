"""`agentkit verify` on a generated bundle against `tar -xzf` of the same archive.

Builds a tgz of N files (~10 KB each, half random so gzip has work to do) with GNU tar, as a
Jenkins job does, with an appspec that installs all of it, then alternates, best of --runs:
  baseline  tar -xzf ARCHIVE -C fresh-dir            vs  agentkit verify ARCHIVE (no hooks)
  baseline  gzip -dc ARCHIVE | tar -t > /dev/null    vs  agentkit verify --no-install ARCHIVE
and prints each ratio plus agentkit's peak RSS at 1x and 4x the size (it must not grow).
Usage: python bench/verify_bundle.py [--files 20000] [--runs 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def make_bundle(root: str, files: int, dest: str) -> str:
    src = os.path.join(root, "src")
    rnd = random.Random(7)
    for i in range(files):
        d = os.path.join(src, f"d{i % 200:03d}", f"s{i % 7}")
        os.makedirs(d, exist_ok=True)
        size = rnd.choice((4000, 8000, 12000, 16000))
        with open(os.path.join(d, f"f{i}.txt"), "wb") as f:
            f.write(os.urandom(size // 2) + b"a" * (size // 2))
    with open(os.path.join(src, "appspec.yml"), "w") as f:
        f.write(f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {dest}\n")
    archive = os.path.join(root, "bundle.tgz")
    # GNU tar, as a Jenkins job builds it (owned by the build user, not root)
    subprocess.run(["tar", "-czf", archive, "--owner=1000", "--group=1000", "-C", src, "."],
                   check=True)
    shutil.rmtree(src)
    return archive


def timed(cmd: str | list[str], shell: bool = False) -> tuple[float, int]:
    os.sync()  # start each run with no dirty pages from the previous one
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, shell=shell, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(after, before)


def compare(root: str, archive: str, runs: int) -> dict[str, float]:
    best = {"tar": 1e9, "verify": 1e9, "list": 1e9, "checks": 1e9}
    rss = 0
    # verify keeps its throw-away root (--keep), removed here untimed, as tar's output is:
    # otherwise the deletion of one run would slow down the next measurement.
    agentkit = [sys.executable, "-m", "agentkit", "verify", "--format", "json"]
    for _ in range(runs):
        out = tempfile.mkdtemp(dir=root)
        best["tar"] = min(best["tar"], timed(["tar", "-xzf", archive, "-C", out])[0])
        shutil.rmtree(out)
        keep = tempfile.mkdtemp(dir=root)
        elapsed, peak = timed([*agentkit, "--keep", keep, archive])
        shutil.rmtree(keep)
        best["verify"] = min(best["verify"], elapsed)
        rss = max(rss, peak)
        best["list"] = min(best["list"], timed(f"gzip -dc {archive} | tar -t", shell=True)[0])
        keep = tempfile.mkdtemp(dir=root)
        best["checks"] = min(best["checks"],
                             timed([*agentkit, "--no-install", "--keep", keep, archive])[0])
        shutil.rmtree(keep)
    best["rss_kb"] = rss
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    for scale in (1, 4):
        root = tempfile.mkdtemp(prefix="agentkit-bench-", dir=args.dir)
        try:
            archive = make_bundle(root, args.files * scale, os.path.join(root, "installed"))
            size = os.path.getsize(archive) / 1e6
            r = compare(root, archive, args.runs)
        finally:
            shutil.rmtree(root)
        print(f"{args.files * scale} files, {size:.0f} MB tgz:")
        print(f"  tar -xzf            {r['tar']:.2f} s")
        print(f"  agentkit verify     {r['verify']:.2f} s  ratio {r['verify'] / r['tar']:.2f}x "
              f"(budget 1.2x)")
        print(f"  gzip -dc | tar -t   {r['list']:.2f} s")
        print(f"  verify --no-install {r['checks']:.2f} s  ratio {r['checks'] / r['list']:.2f}x "
              f"(budget 1.5x)")
        print(f"  peak RSS of verify  {r['rss_kb'] / 1024:.0f} MB (budget 80 MB, flat with size)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
