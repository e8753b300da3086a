"""The agent's side of the hook box: one box per deployment, as one instance.

The box (agentkit.box) starts at the first event that has scripts, showing this machine with
what the deployment has done to it so far (the HostView's records, as a layer). A daemon a hook
starts lives on through the later events; when the deployment ends, the box and every process
in it are gone. Between events the hooks' changes are folded into the HostView, so Install and
the report see them; what Install does while the box runs is written into the box.

The environment the box gives is the instance's as far as it can be known: root of the box is
root of nobody on this machine. As an unprivileged caller, host files root owns may not be
changed in place (mimic.py copies what it can); a hook failure that comes from that is
reported as such (`limit_reason`), never as the deployment's failure.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import pwd
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agentkit import agent_files, beneath, environ, mountinfo
from agentkit.agent import runner
from agentkit.agent.script_run import SCRIPT_FAILED, ScriptRun
from agentkit.box import cgroup, ids
from agentkit.box.client import Box, why_unavailable
from agentkit.box.errors import BoxError, Unavailable
from agentkit.box.spec import Spec
from agentkit.hostview.view import HostView
from agentkit.verify import box_programs
from agentkit.verify.fold import fold, items

AGENT_ROOT = agent_files.DEPLOYMENT_ROOT
SPECIAL = ("proc", "sys", "dev", "run")
REAL_FS = ("ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "nfs", "nfs4", "tmpfs", "vfat",
           "f2fs", "jfs", "reiserfs", "ntfs3", "fuse.sshfs", "virtiofs", "9p", "ceph", "cifs")
MAX_SUBMOUNTS = 64
JOB_HANDLER = "agentkit.agent.runner:run_jobs"  # what the box runs each hook job with
MIMIC_TREES = ("/etc", "/var", "/opt", "/srv", "/usr/local", "/home", "/root")
DEFAULT_MAX_DISK = 4 << 30
DEFAULT_MAX_PROCS = 1024
_REFUSED = re.compile(r"Permission denied|Operation not permitted|Read-only file system|"
                      r"Invalid argument|cannot set (user|group)")
_PATH = re.compile(r"(/[^\s'\"`:,;()]+)")

__all__ = ["HookBox", "Policy", "Unavailable", "unavailable"]


@dataclass(frozen=True)
class Policy:
    """What the caller asks of every box of a run beyond lifecycle.Options: directories to
    show that are hidden by default (verify --show)."""

    show: tuple[str, ...] = ()
    max_memory: int = 2 << 30  # bytes of memory each process of the box may use (--max-memory)


# verify sets the run's Policy here (lifecycle.Options does not carry it through to
# build_spec yet); a box made outside `verify` gets the defaults
POLICY: contextvars.ContextVar[Policy | None] = contextvars.ContextVar("POLICY", default=None)


@contextlib.contextmanager
def policy(value: Policy) -> Iterator[None]:
    token = POLICY.set(value)
    try:
        yield
    finally:
        POLICY.reset(token)


def unavailable() -> str | None:
    """Why no box can be made here, when that is known without trying (None: try)."""
    return why_unavailable()


def _mounts(masked: tuple[str, ...]) -> list[str]:
    """This machine's other file systems below its top-level directories, that the box
    shows too (an EFS share at /mnt/efs, a separate /home/x)."""
    found = []
    for point, fstype in mountinfo.mounts():
        if point.count("/") < 2 or fstype not in REAL_FS:
            continue
        top = point.split("/")[1]
        # A mount holding verify's own directories (a tmpfs /tmp holding its work dir) is
        # shown like any other, those directories masked in it: hooks see the same /tmp
        # whatever file system TMPDIR is on.
        if top in SPECIAL or any(point == m or point.startswith(m + "/") for m in masked):
            continue
        found.append(point)
    return sorted(set(found))[:MAX_SUBMOUNTS]


def _home(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_dir
    except KeyError:
        return None


# --- what of this machine the box never shows (unless --show) ---------------------------------
# Where a machine that runs verify keeps what is nobody's business but its own: root's home,
# the temporary directories, CI runners' homes, work and config directories, mounted secrets,
# cloud-init's user data. Each is shown as an empty directory with its owner and mode, as on an
# instance that has nothing there.
PRIVATE = ("/root", "/tmp", "/var/tmp", "/run/secrets", "/var/run/secrets",
           "/var/lib/jenkins", "/var/jenkins_home", "/var/lib/buildkite-agent",
           "/etc/buildkite-agent", "/var/lib/gitlab-runner", "/etc/gitlab-runner", "/builds",
           "/opt/actions-runner", "/actions-runner", "/__w", "/github",
           "/var/lib/cloud", "/var/lib/kubelet", "/etc/kubernetes", "/etc/rancher")
# Variables naming the caller's own directories: its home, TMPDIR, and the work directory
# of each CI system (Jenkins, GitHub Actions, GitLab, Buildkite, CircleCI, CodeBuild,
# Bitbucket, Drone, Travis).
PRIVATE_ENV = ("HOME", "TMPDIR", "XDG_RUNTIME_DIR", "WORKSPACE", "JENKINS_HOME",
               "GITHUB_WORKSPACE", "RUNNER_WORKSPACE", "RUNNER_TEMP", "CI_PROJECT_DIR",
               "CI_BUILDS_DIR", "BUILDKITE_BUILD_PATH", "BUILDKITE_BUILD_CHECKOUT_PATH",
               "CIRCLE_WORKING_DIRECTORY", "CODEBUILD_SRC_DIR", "BITBUCKET_CLONE_DIR",
               "DRONE_WORKSPACE", "TRAVIS_BUILD_DIR")
# The system hooks run on: never hidden, nor is a directory holding one of them (a CI job
# run from / or /var)
SYSTEM = ("/usr", "/etc", "/var/lib", "/var/log", "/var/www", "/var/cache", "/var/spool",
          "/var/opt", "/opt", "/srv", "/home", "/mnt", "/media", "/boot", "/bin", "/sbin",
          "/lib", "/lib32", "/lib64", "/libx32")
HUMAN_UIDS = range(1000, 60001)  # useradd's UID_MIN..UID_MAX: people and CI users


def _private_candidates() -> list[str]:
    """Every directory the box hides by default, as named (links not yet followed)."""
    found = [*PRIVATE, os.getcwd(), tempfile.gettempdir()]
    found += [environ.get(v) for v in PRIVATE_ENV if environ.get(v).startswith("/")]
    home_root = os.path.realpath("/home")
    with contextlib.suppress(OSError):
        found += [e.path for e in os.scandir(home_root) if e.is_dir(follow_symlinks=False)]
    found += [p.pw_dir for p in pwd.getpwall() if p.pw_uid in HUMAN_UIDS or
              p.pw_uid == os.getuid()]
    return found


def _hideable(path: str) -> str | None:
    """The directory `path` stands for, if the box may show it empty; None for one that is
    not there, is fresh in the box anyway (/proc, /run...) or is or holds the system."""
    real = os.path.realpath(path)
    if not os.path.isdir(real) or real.split("/")[1] in SPECIAL or real == "/":
        return None
    if any(s == real or s.startswith(real + "/") for s in SYSTEM):
        return None
    return real


def private_dirs(show: tuple[str, ...] = (), keep: tuple[str, ...] = ()
                 ) -> tuple[tuple[str, int, int, int], ...]:
    """(path, mode, uid, gid) of each directory hidden from hooks, outermost only; less what
    `show` shows and what is below it, and less the directories `keep` names themselves
    (the `files` destinations: a directory below a hidden one is shown through it, see
    build_spec)."""
    shown = [os.path.realpath(p) for p in show]
    kept = {os.path.realpath(p) for p in keep}
    hidden: set[str] = set()
    for path in _private_candidates():
        real = _hideable(path)
        if real is not None and real not in kept and \
                not any(real == s or real.startswith(s + "/") for s in shown):
            hidden.add(real)
    outer = [h for h in sorted(hidden) if not any(h.startswith(o + "/") for o in hidden)]
    out = []
    for path in outer:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            out.append((path, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
    return tuple(out)


SCRATCH = ("/tmp", "/var/tmp")


def _scratch(path: str) -> bool:
    """Whether `path` lies in a temporary directory (TMPDIR, /tmp, /var/tmp)."""
    real = os.path.realpath(path)
    return _inside(real, {os.path.realpath(d) for d in (*SCRATCH, tempfile.gettempdir())})


def _inside(path: str, dirs: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def build_spec(work: str, dep_root: str, masked: tuple[str, ...], destinations: tuple[str, ...],
               network: bool, max_disk: int = DEFAULT_MAX_DISK,
               max_procs: int = DEFAULT_MAX_PROCS, agent_root: str = AGENT_ROOT,
               image: str = "", policy: Policy | None = None) -> Spec:
    """The box of one deployment over this machine's /, or over `image` (the instance's root
    file system: its users, packages and units; nothing of this machine's but the kernel).
    Over this machine, its private directories show empty (private_dirs) but for
    `policy.show`."""
    policy = policy or POLICY.get() or Policy()
    idmap = ids.choose()
    base = image.rstrip("/")
    # Install is judged against this machine's files at the `files` destinations: hooks
    # see them too inside a temporary directory (a checkout or a test in TMPDIR), but never
    # inside a home, /root or a CI secret place: the bundle chooses its destinations, and
    # `destination: /root/.ssh` must not show a stranger's hooks the caller's keys
    scratch = tuple(d for d in destinations if _scratch(d))
    hidden = () if image else private_dirs(policy.show, scratch)
    names = [h for h, _, _, _ in hidden]
    through = {os.path.realpath(p) for p in (*policy.show, *scratch)}
    tops = [f"/{n}" for n in sorted(os.listdir(base or "/")) if n not in SPECIAL and
            os.path.isdir(f"{base}/{n}") and not os.path.islink(f"{base}/{n}")]
    trees = tops + ([] if image else _mounts(masked))
    # a hidden tree is not shown; a tree --show names below a hidden one is, through it
    shown = tuple((p, base + p) for p in trees if not _inside(p, names))
    shown += tuple((p, p) for p in sorted(through) if _inside(p, names) and os.path.isdir(p)
                   and not any(p != q and p.startswith(q + "/") for q in through))
    homes = tuple(sorted({h for h in (_home(os.getuid()), "/root") if h and h != "/"}))
    extra: list[box_programs.Extra] = [(p, None, 0o755) for p, _ in shown
                                       if _inside(p, names)]
    # a small destination is copied into the box rather than mounted at its path, so that a
    # hook's `rm -rf` of it works as on an instance (a mount point is EBUSY)
    copied = tuple(p for p, _ in shown if _inside(p, names) and
                   p in {os.path.realpath(d) for d in scratch} and _small(p))
    notes = [idmap.note] if idmap.note else []
    if image:  # the image's own agentkit, if any (lexists: its links point into the image)
        if not os.path.lexists(f"{base}/usr/local/bin/agentkit"):
            # this machine's python does not run on the image's libraries: as on an instance
            # whose AMI lacks agentkit, hooks that call it do not find it
            notes.append("the image has no /usr/local/bin/agentkit (packaging/ installs it in the "
                         "AMI): hooks that call agentkit fail there as on such an instance")
    elif not os.path.exists("/usr/local/bin/agentkit"):  # the AMI has it there (packaging/)
        command, cli_trees, why_not = box_programs.agentkit_command(names)
        extra += command
        shown += cli_trees
        notes += [why_not] if why_not else []
    notes.append(f"each process of the box may use at most {_size(policy.max_memory)} of "
                 "memory (RLIMIT_DATA, --max-memory); their total is not bounded here: "
                 f"{cgroup.why_unbounded()}")
    managed, why_not = box_programs.service_manager(base, names)
    extra += managed
    notes += [why_not] if why_not else []
    mimic: tuple[str, ...] = ()
    mimic_dirs: tuple[str, ...] = ()
    if idmap.kind != "shifted" and not image:  # an image is the caller's own: no copies
        # each by its real path: a copy of `/lib/systemd/system` (a files destination) made
        # under the name /lib, a link on a merged-/usr host, would stand in the box as a
        # directory /lib that holds only that, hiding the dynamic loader (every program,
        # su first, fails to start with ENOENT); Install writes there through the link too
        trees = [os.path.realpath(t) for t in (MIMIC_TREES[0], *_user_homes(),
                                               *MIMIC_TREES[1:], *destinations)]
        in_scratch = {os.path.realpath(d) for d in scratch}
        mimic = tuple(t for t in dict.fromkeys(trees)
                      if t in in_scratch or not _inside(t, names))
        mimic_dirs = tuple(p for p in dict.fromkeys(_made_in(d) for d in destinations)
                           if p and p not in mimic and not _inside(p, names))
    return Spec(work=work, idmap=idmap, shown=shown, binds=((agent_root, dep_root),),
                masks=() if image else masked, homes=() if image else homes,
                max_disk=max_disk, max_procs=max_procs, network=network, mimic=mimic,
                mimic_dirs=mimic_dirs,
                extra_files=tuple(extra), notes=tuple(notes),
                image=base, top_links=_top_links(base), hidden=hidden,
                max_memory=policy.max_memory, copied=copied, handler=JOB_HANDLER)


COPY_ENTRIES, COPY_BYTES = 5000, 64 << 20  # a destination the box copies rather than mounts


def _small(top: str) -> bool:
    """Whether the tree at `top` has at most COPY_ENTRIES entries and COPY_BYTES of files."""
    entries, size, todo = 0, 0, [top]
    while todo:
        try:
            with os.scandir(todo.pop()) as it:
                for entry in it:
                    entries += 1
                    st = entry.stat(follow_symlinks=False)
                    size += st.st_size if stat.S_ISREG(st.st_mode) else 0
                    if entries > COPY_ENTRIES or size > COPY_BYTES:
                        return False
                    if stat.S_ISDIR(st.st_mode):
                        todo.append(entry.path)
        except OSError:
            return False
    return True


def _made_in(destination: str) -> str | None:
    """The nearest existing directory above a files destination that does not exist yet
    (/usr/src for /usr/src/app): Install makes the destination in it, which a plain user's
    box may not do in a host directory root owns (it shows as nobody's there)."""
    real = os.path.realpath(destination)
    if os.path.lexists(real):
        return None
    parent = os.path.dirname(real)
    while parent != "/" and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    return None if parent == "/" or parent.split("/")[1] in SPECIAL else parent


def _user_homes() -> list[str]:
    """This machine's users' home directories that exist and are not the system's own (a
    runas user's home at /srv/app/home/u, deeper than MIMIC_TREES are copied): the box's
    copies give them their owner, where the host's layer shows them as nobody's and the
    hook's `mkdir ~/app` would be refused where the instance's user is not."""
    found = []
    for entry in pwd.getpwall():
        home = os.path.normpath(entry.pw_dir or "/")
        if home == "/" or home.split("/")[1] in SPECIAL or _inside(home, SYSTEM_ONLY):
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(home).st_mode):
                found.append(home)
    return sorted(set(found))


# homes of system accounts that are the system's own directories (bin's /bin, man's
# /var/cache/man is copied with /var anyway): no copy of them is needed
SYSTEM_ONLY = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/usr/lib", "/usr/share",
               "/nonexistent")


def _size(count: int) -> str:
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift}{unit}"
    return f"{count} bytes"


def _top_links(base: str) -> tuple[tuple[str, str], ...]:
    """The lower root's top-level links (a merged /usr's /bin -> usr/bin), read here: the box
    may not read an image that is root's own directory."""
    out = []
    for name in sorted(os.listdir(base or "/")):
        path = f"{base}/{name}"
        if name not in SPECIAL and os.path.islink(path):
            out.append((name, os.readlink(path)))
    return tuple(out)


def limit_reason(result: ScriptRun, idmap: ids.IdMap) -> str | None:
    """Why a failed script may have failed only because verify runs unprivileged: a host
    file this box may not change, a user it cannot be. None: it would fail on an instance."""
    if idmap.kind == "shifted" or result.error_code != SCRIPT_FAILED:
        return None
    me = os.getuid()
    for _, line in result.output:
        if not _REFUSED.search(line):
            continue
        for path in _PATH.findall(line):
            st, probe = _nearest(os.path.normpath(path))
            if st is None or st.st_uid == me:
                continue
            if result.runas and (st.st_uid, st.st_gid) != (0, 0):
                # the box shows a host file that is neither the caller's nor root's as
                # nobody's (no copy of it: mimic.py copies directories, not a home's files),
                # where the instance shows it as its owner's: a runas user may own it there
                return (f"{result.location} was refused {probe} (`{line.strip()[:160]}`); "
                        f"it is owned by uid {st.st_uid} and gid {st.st_gid} on this machine, "
                        f"which the box of verify, run by uid {me}, shows as nobody's, so what "
                        f"user {result.runas} may do there is not known; run verify as root "
                        "for a verdict")
            if not result.runas:
                return (f"{result.location} was refused {probe} (`{line.strip()[:160]}`); "
                        f"it is owned by uid {st.st_uid} on this machine, which verify, "
                        f"run by uid {me}, may not change in its box. On an instance the "
                        "hook runs as root and would not meet this; run verify as root "
                        "for a verdict")
        if result.runas:
            continue  # (a runas user is refused what root owns on an instance too)
        if "cannot set" in line or idmap.kind == "single":
            return (f"{result.location} was refused (`{line.strip()[:160]}`); {idmap.note}. "
                    "On an instance it would not meet this")
    return None


def _nearest(path: str) -> tuple[os.stat_result | None, str]:
    """The path, or the nearest of its parents that exists on this machine, and its stat."""
    probe = path
    while probe not in ("/", ""):
        try:
            return os.lstat(probe), probe
        except OSError:
            probe = os.path.dirname(probe)
    return None, probe


class HookBox:
    """The box of one deployment, started when first needed."""

    def __init__(self, sb: HostView, spec: Spec) -> None:
        self.sb = sb
        self.spec = spec
        self.box: Box | None = None
        self.moment = 0  # the HostView's records changed after this are not in the box yet
        self.shown: set[str] = set()
        self.notes: list[str] = []
        self.unshown: str | None = None  # why the box lacks what Install made

    def _sync(self) -> None:
        """Start the box, or write into it what changed in the HostView since."""
        records = self.sb.records
        if self.box is None:
            self.sb.save()
            everything = records.page("n.state > 0 OR n.whiteout = 1 OR n.hides = 1")
            self.box = Box.start(self.spec, items(self.sb, everything, self.shown))
        else:
            _, failed = self.box.apply(items(self.sb, records.changed_since(self.moment),
                                                   self.shown))
            if failed:
                self.notes.append(f"{len(failed)} path(s) of Install could not be shown in "
                                  f"the box, e.g. {failed[0]}")
                self.unshown = self.unshown or (
                    f"{len(failed)} path(s) of Install could not be shown in the box (e.g. "
                    f"{failed[0]}), so the hooks after it did not see the tree the instance's "
                    "would; run verify as root for a verdict")
        self.moment = records.mark()

    def run(self, jobs: list[runner.Job], log: str, log_cap: int
            ) -> tuple[list[ScriptRun], list[str]]:
        """Run one event's jobs; returns their results and the paths they changed."""
        self._sync()
        assert self.box is not None
        deadline = sum(j.timeout + 10 for j in jobs)
        agent_root, dep_root = self.spec.binds[0]
        log_fd = self._open_log(log, agent_root, dep_root)
        refused = log_fd is None and (log == agent_root or log.startswith(agent_root + "/"))
        try:
            raw = self.box.run([dataclasses.asdict(j) for j in jobs], "" if refused else log,
                               log_cap, deadline, log_fd)
            results = [ScriptRun.from_json(r) for r in raw]
            changed = fold(self.sb, self.box.diff(), agent_root, dep_root, self.notes)
        except (ValueError, TypeError, AttributeError) as exc:
            self.close()
            raise Unavailable(f"the hook box sent a malformed result while {jobs[0].event} "
                              f"ran ({exc})") from None
        except BoxError as exc:
            # The box ended or stopped answering while its hooks ran (killed from outside,
            # out of memory): what they did is not known, which is no failure of the
            # deployment and no bug of verify's. The event and the rest are not run.
            self.close()
            raise Unavailable(f"the hook box ended while {jobs[0].event} ran, so what its "
                              f"hooks did is not known ({exc.reason})") from None
        finally:
            if log_fd is not None:
                os.close(log_fd)
        self.moment = self.sb.records.mark()
        return results, changed

    def _open_log(self, log: str, agent_root: str, dep_root: str) -> int | None:
        """scripts.log (`log`, a box path) opened in verify's deployment root for the box to
        append to: the hooks' copy in the box is not the agent's file, and what verify opens
        there is a regular file, never through a link (None, and a note, else)."""
        if not (log == agent_root or log.startswith(agent_root + "/")):
            return None
        try:
            return beneath.open_beneath(dep_root, dep_root + log[len(agent_root):],
                                        os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except OSError as exc:
            self.notes.append(f"{log} could not be written ({exc.strerror}): a hook replaced "
                              "it, so the output of this event's scripts is not in it")
            return None

    def services(self) -> list[dict[str, Any]]:
        """The units the hooks' systemctl touched (none when the box never started)."""
        return self.box.services() if self.box is not None else []

    def take_notes(self) -> list[str]:
        """What the box had to say since last asked."""
        notes = self.notes + (self.box.notes if self.box else [])
        self.notes = []
        if self.box:
            self.box.notes = []
        return notes

    def close(self) -> None:
        if self.box is not None:
            with contextlib.suppress(Exception):
                self.box.close()
            self.box = None
