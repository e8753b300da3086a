"""pid 1 of a box: builds its root, then runs what verify asks, until told to stop.

Requests (channel.py), each answered before the next is read:
- `items` (with descriptors) ... `build`: the layer of what Install put on the machine; the
  root is then built and entered, and the answer is `ready` with notes.
- `run`: jobs, given to the job handler the spec names (wire.py), output to the scripts.log
  descriptor verify sends with it (else the box path given); answers `ran` with the
  handler's results.
- `diff`: what the hooks changed since the last diff, as `changes` messages, then `diffed`.
- `apply` (with descriptors): Items written into the running box (Install after BeforeInstall
  hooks), then `applied`.
- `services`: the units the hooks' systemctl and service touched, with their logs.
- `stop`, or the channel closing: pid 1 exits, and the kernel kills every process left in the
  box (pid_namespaces(7)).

pid 1 ignores every signal it has no handler for, so a hook's `kill -9 -1` or `kill 1` leaves
it running; it reaps the orphans the hooks leave, except while a script it waits for runs.
Everything it will need is imported before pivot_root: afterwards the host's files are gone.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import stat
import traceback
from collections.abc import Iterator
from typing import IO, Any

from agentkit import beneath, fstree
from agentkit.box import layers, mimic, nokeys, rootfs, wire
from agentkit.box import syscalls as sc
from agentkit.box.channel import Channel, ChannelClosed, batches
from agentkit.box.items import Item, item_from
from agentkit.box.spec import Spec
from agentkit.systemd import services

MIMIC_DIRS = 20_000
FULL_MARGIN = 1 << 20  # free bytes left in U below which the hooks are said to have filled it


def _reap_orphans() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return


def _extra(root: rootfs.Root, path: str, content: str | None, mode: int) -> None:
    """A file (or, with content None, a directory) in the layer the box adds; its missing
    parents take the host's attributes where the host has them."""
    parts = [p for p in path.split("/") if p]
    current = ""
    for i, part in enumerate(parts):
        current += "/" + part
        target = root.extra(current)
        last = i == len(parts) - 1
        if last and content is not None:
            with open(target, "w") as f:
                f.write(content)
            os.chmod(target, mode)
            return
        if os.path.isdir(target):
            continue
        os.mkdir(target, 0o755)
        with contextlib.suppress(OSError):
            st = os.lstat(current)
            os.chmod(target, st.st_mode & 0o7777)
            if st.st_uid <= 65535 and st.st_gid <= 65535:
                os.lchown(target, st.st_uid, st.st_gid)


def _empty(root: rootfs.Root, path: str, mode: int, owner: tuple[int, int]) -> None:
    """A directory of this machine's that hooks must not read, as an empty one with its mode
    and owner: opaque in the layer the box adds, so nothing of the host's shows below it (a
    top-level one has no host layer at all: build_spec leaves it out of `shown`)."""
    _extra(root, path, None, mode)
    target = root.extra(path)
    if path.count("/") > 1:
        os.setxattr(target, layers.OPAQUE, b"y")
    with contextlib.suppress(OSError):
        os.lchown(target, *owner)
    os.chmod(target, mode)


class Init:
    def __init__(self, channel: Channel, spec: Spec, handler: wire.JobHandler | None) -> None:
        self.channel = channel
        self.spec = spec
        self.root = rootfs.prepare(spec, spec.work)
        self.diff: layers.Diff | None = None
        self.notes: list[str] = list(spec.notes)
        self.handler = handler  # imported by the stage, before the host's files were gone
        self.said_full = False

    def build(self) -> None:
        unowned, failed = 0, []
        while True:
            message, fds = self.channel.receive()
            try:
                if message.get("op") == "build":
                    break
                items = [item_from(raw, len(fds)) for raw in message.get("items", [])]
                done = layers.write(self.root.install(), items, fds, layer=True)
                unowned += done.unowned
                failed += done.failed
            finally:
                for fd in fds:
                    os.close(fd)
        if unowned:
            self.notes.append(f"{unowned} path(s) Install wrote show as owned by root in the "
                              "box: it has no such user or group id")
        if failed:
            self.notes.append(f"{len(failed)} path(s) of Install could not be shown in the "
                              f"box, e.g. {failed[0]}")
        self._layer()
        rootfs.mount_trees(self.spec, self.root)
        rootfs.mount_specials(self.spec, self.root)
        self.notes += self.root.notes
        dirs = {up: os.open(up, os.O_RDONLY | os.O_DIRECTORY) for up, _ in self.root.uppers}
        dirs["/"] = os.open(self.root.root, os.O_RDONLY | os.O_DIRECTORY)
        uppers = rootfs.uppers(self.root, dirs)
        rootfs.enter(self.root)
        self.diff = layers.Diff(uppers)
        if not self.spec.network:
            sc.loopback_up()
        self._limits()

    def _layer(self) -> None:
        """What the box adds over the host: mount points, locked accounts, the agentkit
        command, and (unprivileged) its own copies of the host (mimic.py)."""
        budget = [MIMIC_DIRS]
        hidden = frozenset(h for h, _, _, _ in self.spec.hidden)
        for tree in self.spec.mimic:
            mimic.copy_tree(tree, self.root.extra(), self.spec.idmap, tree == "/etc", budget,
                            skip=hidden)
        for directory in self.spec.mimic_dirs:
            mimic.copy_tree(directory, self.root.extra(), self.spec.idmap, False, budget,
                            depth=1, skip=hidden)
        for path, mode, uid, gid in self.spec.hidden:
            _empty(self.root, path, mode, mimic.owner(self.spec.idmap, uid, gid))
        if "/var" in self.spec.mimic and mimic.empty_logs(self.root.extra(), self.spec.idmap):
            self.notes.append("the log files of /var/log are empty in the box (its own "
                              "copies, so daemons may append to them as root does)")
        if budget[0] <= 0:
            self.notes.append(f"the box made its own copies of only {MIMIC_DIRS} host "
                              "directories")
        mimic.locked_accounts(self.root.extra(), self.spec.idmap,
                              dict(self.spec.shown).get("/etc", "/etc"), bool(self.spec.image))
        for box_path, _ in self.spec.binds:
            _extra(self.root, box_path, None, 0o755)
        self._copy()
        for path, content, mode in self.spec.extra_files:
            _extra(self.root, path, content, mode)

    def _copy(self) -> None:
        """The shown trees to copy into L (spec.copied): a plain directory of the box, that
        a hook may remove as on an instance, where a mount point would be EBUSY. One that
        cannot be copied (a device in it) is mounted instead."""
        shown = dict(self.spec.shown)
        for box_path in self.spec.copied:
            target = self.root.extra(box_path)
            _extra(self.root, os.path.dirname(box_path), None, 0o755)
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(target)  # (mimic's copies of its directories)
            try:
                fstree.copy_tree(shown[box_path], target)
            except OSError as exc:
                shutil.rmtree(target, ignore_errors=True)
                self.notes.append(f"{box_path} is a mount point in the box ({exc.strerror} "
                                  "copying it): a hook's rm -rf of it fails with EBUSY")
                continue
            self.root.copied.add(box_path)

    def _limits(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        resource.setrlimit(resource.RLIMIT_NPROC, (self.spec.max_procs, self.spec.max_procs))
        # a hook's allocation past it fails (ENOMEM, MemoryError) instead of taking this
        # machine's memory; DATA, not AS: a JVM's or Go's reserved address space is not use
        memory = self.spec.max_memory
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        # The box's own layers are bounded by their tmpfs (ENOSPC, as a full disk); this bounds
        # a file written through to this machine's disk (the agent's deployment root).
        fsize = 2 * self.spec.max_disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # scripts.log past it: EFBIG, no kill
        del soft
        if self.spec.idmap.kind != "shifted":  # root of the box is the caller to the kernel
            why_not = nokeys.refuse()
            self.notes.append(
                "hooks may not use the kernel's keyrings here (keyctl, add_key and "
                "request_key fail with ENOSYS, as on a kernel without them): run by a plain "
                "user, root of the box is that user to the kernel, and could reach its user "
                "keyring by number (run verify as root to give hooks keyrings of their own)"
                if why_not is None else
                f"hooks could reach the caller's user keyring by its number (the kernel sees "
                f"root of the box as the caller, and the seccomp filter that refuses keyctl "
                f"could not be installed: {why_not}); run verify as root, or with no keys in "
                "the user keyring")

    # --- requests ------------------------------------------------------------------------------
    def serve(self) -> int:
        while True:
            _reap_orphans()
            try:
                message, fds = self.channel.receive()
            except ChannelClosed:
                return 0
            op = message.get("op")
            try:
                if op == "stop":
                    self._give_back()
                    return 0
                if op == "run":
                    results, notes = self._run(message, fds)
                    self.channel.send({"op": "ran", "results": results, "notes": notes})
                elif op == "diff":
                    self._send_diff()
                elif op == "services":  # what the hooks' systemctl did (services.py)
                    self.channel.send({"op": "services", "units": services.collect()})
                elif op == "apply":
                    self.channel.send({"op": "applied", **self._apply(message, fds)})
                else:
                    self.channel.send({"op": "error", "message": f"unknown request {op!r}"})
            finally:
                for fd in fds:
                    os.close(fd)

    def _give_back(self) -> None:
        """What hooks made as other users in the directories bound from verify's disk (the
        deployment root) becomes root's of the box again: verify, outside, may then remove
        it (a plain user may not delete what its subordinate ids own)."""
        if self.spec.idmap.kind == "shifted":
            return  # verify runs as root there: it removes anything
        for box_path in self.root.bound:  # (an overlay's writes are in U: gone with the box)
            stack = [box_path]
            while stack:
                path = stack.pop()
                with contextlib.suppress(OSError):
                    st = os.lstat(path)
                    if st.st_uid or st.st_gid:
                        os.lchown(path, 0, 0)
                    if stat.S_ISDIR(st.st_mode):
                        if st.st_mode & 0o700 != 0o700:
                            os.chmod(path, stat.S_IMODE(st.st_mode) | 0o700)
                        stack.extend(os.path.join(path, n) for n in os.listdir(path))

    def _run(self, message: dict[str, Any], fds: list[int]
             ) -> tuple[list[dict[str, Any]], list[str]]:
        """Each job's result, and notes (scripts.log could not be written)."""
        log_path = str(message["log"])
        with self._log(log_path, fds) as (f, notes):
            if self.handler is None:
                raise ValueError("this box was given no job handler")
            results = self.handler(list(message["jobs"]), f,
                                   int(message.get("log_cap", self.spec.max_disk)))
        return results, notes + self._full()

    def _full(self) -> list[str]:
        """A note when the hooks filled U, the bound of everything they write: past it their
        writes failed with ENOSPC, as on a full disk ("/" is U, bound onto itself)."""
        with contextlib.suppress(OSError):
            st = os.statvfs("/")
            if st.f_bavail * st.f_frsize < FULL_MARGIN and not self.said_full:
                self.said_full = True
                return [f"the hooks wrote as much as the box allows (--max-disk "
                        f"{self.spec.max_disk >> 20} MiB in all, the deployment root, /tmp, "
                        "/run and /dev/shm included): writes past it failed with ENOSPC (No "
                        "space left on device), as on a full disk"]
        return []

    @contextlib.contextmanager
    def _log(self, path: str, fds: list[int]) -> Iterator[tuple[IO[str], list[str]]]:
        """scripts.log for appending: the descriptor verify opened (the file is verify's, in
        its deployment root; a hook's copy in the box is not it), or with none, the box path
        if a hook left it a regular file (a FIFO there would hold pid 1, and every answer to
        verify, until someone reads it); "" or else the output goes nowhere, and a note says
        why."""
        notes: list[str] = []
        if fds or not path:
            fd = os.dup(fds[0]) if fds else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            with os.fdopen(fd, "a", encoding="utf-8", errors="surrogateescape") as f:
                yield f, notes
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = beneath.open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except OSError as exc:
            notes.append(f"{path} could not be written ({exc.strerror}): a hook replaced it, "
                         "so the output of this event's scripts is not in it")
            fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        with os.fdopen(fd, "a", encoding="utf-8", errors="surrogateescape") as f:
            yield f, notes

    def _send_diff(self) -> None:
        assert self.diff is not None
        for batch, fds in batches(self.diff.changes()):
            self.channel.send({"op": "changes", "changes": batch}, fds)
            for fd in fds:
                os.close(fd)
        notes, self.diff.notes = self.diff.notes, []
        self.channel.send({"op": "diffed", "notes": notes})

    def _apply(self, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        assert self.diff is not None
        items: list[Item] = [item_from(raw, len(fds)) for raw in message.get("items", [])]
        done = layers.write("/", items, fds, layer=False)
        for item in items:
            self.diff.know(item.path)
        return {"unowned": done.unowned, "failed": done.failed}


def main(channel: Channel, spec: Spec, handler: wire.JobHandler | None) -> int:
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    # The relay of every result to verify: no hook may trace it, read its memory or its
    # descriptors (the stage made it so; said again here, where it matters)
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)  # pid 1: the kernel drops what it has no handler for
    channel.send({"op": "entered"})
    try:
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        init = Init(channel, spec, handler)
        init.build()
    except Exception as exc:  # everything about building the box is verify's own error
        with contextlib.suppress(OSError):
            channel.send({"op": "error", "message": f"{type(exc).__name__}: {exc}",
                          "trace": traceback.format_exc()})
        return 1
    channel.send({"op": "ready", "notes": init.notes})
    return init.serve()
