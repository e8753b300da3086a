"""A hook action's whole run as the instance runs it: agentkit installed by
packaging/install.sh (a venv on the system python3, the `python3 -I` wrapper), `agentkit hook
health up` writing a health file, against `python3 -I -c pass` on the same interpreter, in
the same run. Budget: under 0.1 s. Usage: python bench/hook_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _time(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default="/usr/bin/python3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prefix, bin_dir = os.path.join(tmp, "opt"), os.path.join(tmp, "bin")
        done = subprocess.run([os.path.join(HERE, "packaging", "install.sh"), "--prefix",
                               prefix, "--bin", bin_dir, "--python", args.python],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"packaging/install.sh failed:\n{done.stderr}")
        config = os.path.join(tmp, "agentkit.yml")
        with open(config, "w") as f:
            f.write(f"version: 1\nhealth:\n  file: {tmp}/health.html\n  drain: "
                    f"{{interval: 0}}\nlog:\n  file: {tmp}/hooks.log\n")
        hook = _time([os.path.join(bin_dir, "agentkit"), "hook", "health", "up", "--config",
                      config], args.runs)
        bare = _time([args.python, "-I", "-c", "pass"], args.runs)
    for name, times in (("agentkit hook health up", hook), ("python3 -I -c pass", bare)):
        print(f"{name:<26} min {min(times) * 1000:4.0f} ms  median "
              f"{statistics.median(times) * 1000:4.0f} ms")
    print(f"ratio (median): {statistics.median(hook) / statistics.median(bare):.1f}x; "
          f"budget 100 ms: {'met' if statistics.median(hook) < 0.1 else 'NOT met'}")


if __name__ == "__main__":
    main()
