"""Run one lifecycle event's hook scripts where they cannot touch this machine.

As root: new mount, pid, ipc, uts (and, without --network, net) namespaces via util-linux
`unshare`; inside, an overlayfs whose lower layers are the Install step's sandbox (its
whiteouts as overlay whiteouts) and the host's root filesystem, and whose upper layer is ours;
fresh /proc, a minimal /dev, empty /run and /tmp-less sockets (no systemd, D-Bus or docker);
the agent's deployment root bound at /opt/codedeploy-agent/deployment-root as on an instance;
then chroot and run the scripts with `runner`. When the event ends, pid 1 of the namespace
exits and the kernel kills whatever the hooks left running. Afterwards the upper layer is
folded into the Sandbox, so later events and the report see what the hooks did.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import asdict
from typing import Any

from agentkit import proc
from agentkit.agent import runner
from agentkit.agent.result import ScriptRun
from agentkit.agent.sandbox import Sandbox

AGENT_ROOT = "/opt/codedeploy-agent/deployment-root"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
RESULTS = ".hookbox-results.json"  # in the deployment root, which both sides see
SKIP = ("/proc", "/dev", "/run", "/sys", "/opt/codedeploy-agent/deployment-root")


def unavailable() -> str | None:
    """Why hooks cannot be sandboxed here, in one line; None when they can."""
    if os.geteuid() != 0:
        return "the hook sandbox needs root (namespaces and overlayfs); not running as root"
    if proc.which("unshare") is None:
        return "the hook sandbox needs util-linux's unshare, which is not installed"
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                return "the kernel has no overlayfs"
    except OSError:
        return "cannot read /proc/filesystems"
    return None


def _whiteout_layer(sb: Sandbox, layer: str) -> None:
    os.makedirs(layer, exist_ok=True)
    for path in sb.whiteouts():
        if sb.lexists(path):
            continue  # re-created since: the upper layer shows it
        sb.mirror_dirs(os.path.dirname(path), layer)
        os.mknod(layer + path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def run_event(sb: Sandbox, work: str, dep_root: str, jobs: list[runner.Job], log_path: str,
              network: bool) -> tuple[list[ScriptRun], list[str]]:
    """Run the jobs in a fresh namespace; returns their results and the paths they changed."""
    box = os.path.join(work, "hookbox")
    shutil.rmtree(box, ignore_errors=True)
    sb.materialize_all()
    for name in ("upper", "work", "merged"):
        os.makedirs(os.path.join(box, name))
    _whiteout_layer(sb, os.path.join(box, "whiteouts"))
    spec = {"lower": [os.path.join(box, "whiteouts"), sb.upper, "/"],
            "upper": os.path.join(box, "upper"), "work": os.path.join(box, "work"),
            "merged": os.path.join(box, "merged"), "dep_root": dep_root,
            "layers": os.path.join(box, "layers"),
            "log": log_path, "jobs": [asdict(j) for j in jobs]}
    results_file = os.path.join(dep_root, RESULTS)
    with open(os.path.join(box, "spec.json"), "w") as f:
        json.dump(spec, f)
    flags = ["--mount", "--pid", "--fork", "--ipc", "--uts", "--propagation", "private"]
    if not network:
        flags.append("--net")
    done = proc.run(["unshare", *flags, sys.executable, "-m", "agentkit.agent.hookbox",
                     os.path.join(box, "spec.json")])
    try:
        with open(results_file) as f:
            results = [ScriptRun(**{**r, "output": tuple((s, t) for s, t in r["output"])})
                       for r in json.load(f)]
        os.unlink(results_file)
    except FileNotFoundError:
        raise RuntimeError(f"the hook sandbox did not start: {done.stderr.strip()}") from None
    changed = _fold(sb, os.path.join(box, "upper"))
    shutil.rmtree(box, ignore_errors=True)
    return results, changed


def _fold(sb: Sandbox, upper: str) -> list[str]:
    """Apply the hooks' upper layer to the Sandbox."""
    changed = []
    for dirpath, dirs, files in os.walk(upper):
        rel_dir = dirpath[len(upper):] or "/"
        if any(rel_dir == s or rel_dir.startswith(s + "/") for s in SKIP):
            dirs[:] = []
            continue
        for name in sorted(dirs + files):
            path = os.path.join(rel_dir, name)
            if any(path == s or s.startswith(path + "/") for s in SKIP):
                continue  # our mount points and the directories made to hold them
            real = os.path.join(dirpath, name)
            st = os.lstat(real)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                if sb.lexists(path):
                    _remove_tree(sb, path)
                    changed.append(path)
            elif stat.S_ISDIR(st.st_mode):
                if _dir_changed(sb, path, st):
                    if not sb.isdir(path):
                        sb.mkdir(path, stat.S_IMODE(st.st_mode))
                    else:
                        sb.chmod(path, stat.S_IMODE(st.st_mode))
                    sb.chown(path, st.st_uid, st.st_gid)
                    changed.append(path)
            elif stat.S_ISLNK(st.st_mode):
                if sb.lexists(path):
                    _remove_tree(sb, path)
                sb.symlink(os.readlink(real), path)
                changed.append(path)
            elif stat.S_ISREG(st.st_mode):
                if sb.lexists(path) and sb.isdir(path) and not sb.islink(path):
                    _remove_tree(sb, path)
                sb.write_file(path, real, mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime,
                              owner=(st.st_uid, st.st_gid))
                changed.append(path)
    sb.save()
    return changed


def _dir_changed(sb: Sandbox, path: str, st: os.stat_result) -> bool:
    entry = sb.entry(path)
    return entry is None or entry.type != "dir" or (
        entry.mode, entry.uid, entry.gid) != (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def _remove_tree(sb: Sandbox, path: str) -> None:
    if sb.isdir(path) and not sb.islink(path):
        for name in sb.listdir(path):
            _remove_tree(sb, os.path.join(path, name))
        sb.rmdir(path)
    else:
        sb.remove(path)


# --- inside the namespace ------------------------------------------------------------------
def _mount(*args: str) -> None:
    proc.must(["mount", *args])


def _enter(spec: dict[str, Any]) -> None:
    merged = spec["merged"]
    _mount("--make-rprivate", "/")
    # overlayfs refuses lower layers that lie inside another lower layer ("/"), so the
    # sandbox's layers are copied onto a tmpfs of this namespace first.
    layers = spec["layers"]
    os.makedirs(layers, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", layers)
    lowers = []
    for i, source in enumerate(spec["lower"][:-1]):
        target = os.path.join(layers, str(i))
        proc.must(["cp", "-a", source, target])
        lowers.append(target)
    _mount("-t", "overlay", "overlay", "-o",
           f"lowerdir={':'.join([*lowers, spec['lower'][-1]])},upperdir={spec['upper']},"
           f"workdir={spec['work']}", merged)
    _mount("-t", "proc", "proc", f"{merged}/proc")
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"{merged}/dev")
    for name in DEVICES:
        open(f"{merged}/dev/{name}", "w").close()
        _mount("--bind", f"/dev/{name}", f"{merged}/dev/{name}")
    os.makedirs(f"{merged}/dev/shm")
    _mount("-t", "tmpfs", "tmpfs", f"{merged}/dev/shm")
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"{merged}/run")
    target = merged + AGENT_ROOT
    os.makedirs(target, exist_ok=True)
    _mount("--bind", spec["dep_root"], target)
    os.chroot(merged)
    os.chdir("/")


def _main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    _enter(spec)
    results = []
    os.makedirs(os.path.dirname(spec["log"]), exist_ok=True)
    with open(spec["log"], "a") as log:
        for raw in spec["jobs"]:
            result = runner.run(runner.Job(**raw), log)
            results.append(asdict(result))
            if result.error_code != "SUCCEEDED":
                break
    with open(os.path.join(AGENT_ROOT, RESULTS), "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
