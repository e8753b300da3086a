"""`./dev stress`: many verifies at once, under load, each checked against what it must say.

Bundles whose hooks print to both streams, start and stop services from the bundle's own unit
files, time out, and leave daemons behind (with and without their output redirected) are
verified over and over, several at a time, while other processes load the CPU and the disk
(and, with --with-suite, the project's own box tests run beside them). Every run must end as
that bundle always ends (its exit status, failing event and error code), never with exit 3
(an internal error) and never with a script's exit code left blank: the box failures people
saw under load ("the hook box stopped answering", "failed with exit code " and nothing after)
are exactly what this looks for. Usage:

    ./dev stress [--runs 500] [--jobs 4] [--load 2] [--with-suite]

The last line is `N passed, M failed`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.archives import appspec, tar  # noqa: E402

UNIT = """[Unit]
Description=stress {name}
[Service]
ExecStart=/bin/sh -c 'echo serving; exec sleep 300'
"""


@dataclass(frozen=True)
class Case:
    name: str
    hooks: str  # the appspec's hooks section
    scripts: tuple[tuple[str, str], ...]  # (name, body)
    exit: int  # what verify must exit with
    event: str | None  # the event it must fail in
    error_code: str | None


def _noisy(n: int) -> str:
    return "".join(f"echo out {i}\necho err {i} >&2\n" for i in range(n))


CASES = (
    Case("noisy", "  AfterInstall:\n    - location: s/a.sh\n",
         (("s/a.sh", _noisy(200)),), 0, None, None),
    Case("fails", "  BeforeInstall:\n    - location: s/a.sh\n",
         (("s/a.sh", _noisy(20) + "exit 7\n"),), 1, "BeforeInstall", "SCRIPT_FAILED"),
    Case("times-out", "  AfterInstall:\n    - location: s/a.sh\n      timeout: 1\n",
         (("s/a.sh", "trap '' TERM\nwhile :; do echo tick; sleep 0.1; done\n"),), 1,
         "AfterInstall", "SCRIPT_TIMED_OUT"),
    Case("daemon-holds-stdout", "  ApplicationStart:\n    - location: s/a.sh\n      timeout: 2\n",
         (("s/a.sh", "sleep 30 &\necho started\n"),), 1, "ApplicationStart",
         "OUTPUTS_LEFT_OPEN"),
    Case("daemon-redirected", "  ApplicationStart:\n    - location: s/a.sh\n",
         (("s/a.sh", "sleep 30 > /dev/null 2>&1 < /dev/null &\necho started\n"),), 0, None,
         None),
    Case("services", "  AfterInstall:\n    - location: s/unit.sh\n"
                     "  ApplicationStart:\n    - location: s/start.sh\n"
                     "  ValidateService:\n    - location: s/check.sh\n",
         (("s/unit.sh", "cp \"$(dirname \"$0\")/stress-app.service\" /etc/systemd/system/\n"
                        "systemctl daemon-reload\n"),
          ("s/start.sh", "systemctl restart stress-app\nsystemctl stop stress-app\n"
                         "systemctl start stress-app\n"),
          ("s/check.sh", "systemctl is-active stress-app\n"),
          ("s/stress-app.service", UNIT.format(name="app"))), 0, None, None),
)


def build(into: Path) -> dict[str, Path]:
    out = {}
    for case in CASES:
        members = [("appspec.yml", "file", appspec(into / "dest" / case.name, case.hooks),
                    0o644)]
        members += [(name, "file", "#!/bin/sh\n" + body if name.endswith(".sh") else body,
                     0o755 if name.endswith(".sh") else 0o644) for name, body in case.scripts]
        out[case.name] = tar(into / f"{case.name}.tgz", members)
    return out


def one(agentkit: str, case: Case, archive: Path) -> str | None:
    """None when the run said what the bundle always says; else what went wrong."""
    done = subprocess.run([agentkit, "verify", "--format", "json", str(archive)],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode == 3 or "Traceback" in done.stderr:
        return f"{case.name}: internal error: {done.stderr.strip()[-400:]}"
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return f"{case.name}: exit {done.returncode}, no report: {done.stderr.strip()[-400:]}"
    error = report.get("error") or {}
    said = (done.returncode, report.get("failed_event"), error.get("error_code"))
    if said != (case.exit, case.event, case.error_code):
        return f"{case.name}: {said} instead of {(case.exit, case.event, case.error_code)}: " \
               f"{error.get('message')} {report.get('undetermined')}"
    blank = [s["message"] for e in report["events"] for s in e["scripts"]
             if s["message"].endswith("failed with exit code ")]
    if blank:
        return f"{case.name}: a blank exit code: {blank[0]}"
    return None


def _load(n: int, scratch: Path) -> list[subprocess.Popen[bytes]]:
    """CPU (a busy loop) and disk (a file written and removed over and over) load."""
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        procs.append(subprocess.Popen(
            ["sh", "-c", f"while :; do dd if=/dev/zero of={scratch}/load{i} bs=1M count=64 "
                         f"conv=fsync 2>/dev/null; rm -f {scratch}/load{i}; done"]))
    return procs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--load", type=int, default=1, help="CPU and disk loaders (each)")
    parser.add_argument("--with-suite", action="store_true",
                        help="run the project's box tests beside it, over and over")
    args = parser.parse_args()
    agentkit = shutil.which("agentkit", path=os.path.dirname(sys.executable)) or "agentkit"
    scratch = Path(tempfile.mkdtemp(prefix="agentkit-stress-"))
    loaders = _load(args.load, scratch)
    suite = None
    if args.with_suite:
        suite = subprocess.Popen(["sh", "-c", f"while :; do {sys.executable} -m pytest -q -p "
                                              "no:cacheprovider tests/box >/dev/null 2>&1; done"],
                                 cwd=HERE.parent, start_new_session=True)
    failures: list[str] = []
    start = time.monotonic()
    try:
        archives = build(scratch)
        plan = [CASES[i % len(CASES)] for i in range(args.runs)]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for problem in pool.map(lambda c: one(agentkit, c, archives[c.name]), plan):
                if problem:
                    failures.append(problem)
                    print(problem, flush=True)
    finally:
        for p in loaders:
            p.kill()
            p.wait()
        if suite is not None:
            os.killpg(suite.pid, 9)
            suite.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - start
    print(f"{args.runs} verifies of {len(CASES)} bundles, {args.jobs} at a time, in "
          f"{seconds:.0f} s")
    print(f"{args.runs - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
