"""`agentkit verify` on a generated bundle against `tar -xzf` of the same archive.

Builds a tgz of N files (~10 KB each, half random so gzip has work to do) with GNU tar, as a
Jenkins job does, with an appspec that installs all of it, then alternates, --runs times:
  baseline  tar -xzf ARCHIVE -C fresh-dir          vs  agentkit verify ARCHIVE (no hooks)
  baseline  tar -xzf ARCHIVE -C fresh-dir          vs  agentkit verify --format json ARCHIVE
  baseline  gzip -dc ARCHIVE | tar -t > /dev/null  vs  agentkit verify --no-install ARCHIVE
and prints the ratios (each against its baseline run next to it, in alternating order: this
machine's disk changes speed from minute to minute, and is slower right after a big write)
plus agentkit's peak RSS at 1x and 4x the size.
Usage: python bench/verify_bundle.py [--files 20000] [--runs 3] [--dir /tmp] [--scales 1,4]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from installed import compile_agentkit


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
    """Seconds and peak RSS (KB) of one command, its own children included."""
    os.sync()  # start each run with no dirty pages from the previous one
    start = time.perf_counter()
    child = subprocess.Popen(cmd, shell=shell, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: verify found problems
        raise SystemExit(f"{cmd} failed")
    return elapsed, usage.ru_maxrss


def compare(root: str, archive: str, runs: int) -> dict[str, list[float]]:
    """Each run times a baseline and agentkit back to back, so both see the same disk."""
    out: dict[str, list[float]] = {k: [] for k in (
        "verify", "base-verify", "json", "base-json", "checks", "base-checks", "rss")}
    agentkit = [sys.executable, "-m", "agentkit", "verify"]

    def kept(*args: str) -> tuple[float, int]:
        # verify keeps its throw-away root (--keep), removed here untimed, as tar's output
        # is: otherwise the deletion of one run would slow down the next measurement.
        keep = tempfile.mkdtemp(dir=root)
        try:
            return timed([*agentkit, *args, "--keep", keep, archive])
        finally:
            shutil.rmtree(keep)

    def tar_x() -> float:
        extracted = tempfile.mkdtemp(dir=root)
        try:
            return timed(["tar", "-xzf", archive, "-C", extracted])[0]
        finally:
            shutil.rmtree(extracted)

    def listing() -> float:
        return timed(f"gzip -dc {archive} | tar -t", shell=True)[0]

    def pair(first: str, baseline: Callable[[], float], run: Callable[[], float]) -> None:
        # the disk is slower right after a big write: odd runs time agentkit first
        if len(out[first]) % 2:
            out[first].append(run())
            out["base-" + first].append(baseline())
        else:
            out["base-" + first].append(baseline())
            out[first].append(run())

    def verify(key: str, *args: str) -> float:
        elapsed, rss = kept(*args)
        if key != "checks":
            out["rss"].append(rss)
        return elapsed

    # Untimed: a disk that has been idle takes the first big write much faster than the next
    # ones (this machine's: `tar -xzf` in 1.3 s, then 13-17 s); no timed run gets that.
    tar_x()
    for _ in range(runs):
        pair("verify", tar_x, lambda: verify("verify"))
        pair("json", tar_x, lambda: verify("json", "--format", "json"))
        pair("checks", listing, lambda: verify("checks", "--no-install"))
    return out


def _ratios(runs: list[float], base: list[float]) -> str:
    pairs = sorted(r / b for r, b in zip(runs, base))
    return (f"median {pairs[len(pairs) // 2]:.2f}x, best {pairs[0]:.2f}x "
            f"(runs: {', '.join(f'{p:.2f}' for p in pairs)})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--scales", default="1,4", help="sizes to run, in multiples of --files")
    args = parser.parse_args()
    compile_agentkit()
    for scale in (int(x) for x in args.scales.split(",")):
        root = tempfile.mkdtemp(prefix="agentkit-bench-", dir=args.dir)
        try:
            archive = make_bundle(root, args.files * scale, os.path.join(root, "installed"))
            size = os.path.getsize(archive) / 1e6
            r = compare(root, archive, args.runs)
        finally:
            shutil.rmtree(root)
        tar = r["base-verify"] + r["base-json"]
        print(f"{args.files * scale} files, {size:.0f} MB tgz, {args.runs} runs "
              "(each ratio against its baseline run next to it):")
        print(f"  tar -xzf              {min(tar):.2f}-{max(tar):.2f} s")
        print(f"  agentkit verify       {min(r['verify']):.2f}-{max(r['verify']):.2f} s  "
              f"{_ratios(r['verify'], r['base-verify'])} (budget 1.2x)")
        print(f"  verify --format json  {min(r['json']):.2f}-{max(r['json']):.2f} s  "
              f"{_ratios(r['json'], r['base-json'])} (budget 1.2x)")
        print(f"  gzip -dc | tar -t     {min(r['base-checks']):.2f}-"
              f"{max(r['base-checks']):.2f} s")
        print(f"  verify --no-install   {min(r['checks']):.2f}-{max(r['checks']):.2f} s  "
              f"{_ratios(r['checks'], r['base-checks'])} (budget 1.5x)")
        print(f"  peak RSS of verify    {max(r['rss']) / 1024:.0f} MB (budget 80 MB, flat with "
              "size)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
