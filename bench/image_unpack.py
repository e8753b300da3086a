"""`agentkit image unpack` of an instance image tarball against `tar -xzf` of the same file.

The image is --tarball (e.g. what `agentkit image build` or `docker export | gzip` wrote), or
else one made here of this machine's /etc, /usr/share/doc and /usr/share/man (tens of
thousands of small files, as a distribution's tree is). Alternates, --runs times, each into a fresh
directory of --dir:
  baseline  tar -xzf IMAGE -C fresh-dir      vs  agentkit image unpack --cache fresh-dir IMAGE
and prints the ratio of each pair plus agentkit's peak RSS. agentkit also hashes the file
(the cache key) and, for a plain user with a subordinate range, unpacks in a user namespace.
Usage: python bench/image_unpack.py [--tarball FILE] [--runs 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from installed import compile_agentkit


def make_image(root: str) -> str:
    out = os.path.join(root, "image.tar.gz")
    subprocess.run(["tar", "-czf", out, "--ignore-failed-read", "-C", "/", "etc",
                    "usr/share/doc", "usr/share/man"], check=False, stderr=subprocess.DEVNULL)
    return out


def timed(cmd: list[str]) -> tuple[float, int]:
    os.sync()
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 2):  # tar: 2 for a file it could not make
        raise SystemExit(f"{cmd} failed")
    return elapsed, usage.ru_maxrss


def remove(path: str) -> None:
    """rm -rf, by agentkit for its cache (its files may be subordinate ids')."""
    subprocess.run([sys.executable, "-m", "agentkit", "image", "remove", "--cache", path,
                    "--all"], stdout=subprocess.DEVNULL, check=False)
    subprocess.run(["rm", "-rf", path], check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tarball")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    compile_agentkit()
    root = tempfile.mkdtemp(prefix="agentkit-bench-", dir=args.dir)
    try:
        image = args.tarball or make_image(root)
        print(f"image: {image}, {os.path.getsize(image) / 1e6:.0f} MB compressed")
        ratios, rss = [], 0
        for _ in range(args.runs):
            base_dir, ours_dir = tempfile.mkdtemp(dir=root), tempfile.mkdtemp(dir=root)
            base, _ = timed(["tar", "-xzf", image, "-C", base_dir])
            ours, peak = timed([sys.executable, "-m", "agentkit", "image", "unpack",
                                "--cache", ours_dir, image])
            remove(base_dir)
            remove(ours_dir)
            ratios.append(ours / base)
            rss = max(rss, peak)
            print(f"  tar -xzf {base:6.2f} s   agentkit image unpack {ours:6.2f} s   "
                  f"ratio {ours / base:4.2f}")
        print(f"median ratio {sorted(ratios)[len(ratios) // 2]:.2f}, agentkit peak RSS "
              f"{rss / 1024:.0f} MB")
    finally:
        remove(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
