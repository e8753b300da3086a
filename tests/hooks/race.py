"""The race harness: an attacker, a real unprivileged user, swaps the path in use for a link
at every file system call of a hook action run as root.

Every operation of agentkit/safefs passes `pause.point` first (the window between a check
and its use that a path-based implementation would have). `run_attacked` runs an action
with a callback there that, at the N-th point, asks the attacker (a forked process that
gave up root for the application user) to put a symlink, a dangling symlink or a hard link
to a canary outside the tree in place of the entry in use, or to move the directory in use
away and put a link in its place. The canaries (a root-only file, a root file the app user
may hard-link, a root directory) must come out unchanged, and the action must end normally
or with HookFailed (a clear message), never with another exception.
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import stat
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agentkit.errors import FatalError
from agentkit.safefs import pause

ATTACKS = ("symlink-file", "symlink-dir", "symlink-dangling", "hardlink", "dir-swap", "dir-own")


@dataclass(frozen=True)
class Scene:
    base: Path  # 0755, root's: the tree and the canaries below it
    canary: Path
    area: Path  # the attacker's own directory, where what it moves away goes
    uid: int
    gid: int


@contextlib.contextmanager
def scene(uid: int, gid: int) -> Iterator[Scene]:
    """A base every user may enter (pytest's tmp_path is root's 0700), the canaries in it."""
    base = Path(tempfile.mkdtemp(prefix="agentkit-race-", dir="/tmp"))
    try:
        base.chmod(0o755)
        canary = base / "canary"
        canary.mkdir()
        (canary / "secret").write_text("root secret\n")
        (canary / "secret").chmod(0o600)
        # fs.protected_hardlinks lets a user link only what it may read and write
        (canary / "linkable").write_text("root file\n")
        (canary / "linkable").chmod(0o666)
        (canary / "dir").mkdir()
        (canary / "dir/inner").write_text("inner\n")
        area = base / "attacker"
        area.mkdir()
        os.chown(area, uid, gid)
        yield Scene(base, canary, area, uid, gid)
    finally:
        _remove_all(base)


def _remove_all(path: Path) -> None:
    import shutil
    import subprocess

    from agentkit import mountinfo

    for point in sorted(mountinfo.at_or_below(str(path)), reverse=True):  # a tmpfs share
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)

    for p in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            if not p.is_symlink():
                p.chmod(0o700 if p.is_dir() else 0o600)
    shutil.rmtree(path, ignore_errors=True)


def snapshot(canary: Path) -> dict[str, tuple[Any, ...]]:
    """Every canary entry's type, owner, mode, link count and content."""
    out: dict[str, tuple[Any, ...]] = {}
    for p in [canary, *sorted(canary.rglob("*"))]:
        st = os.lstat(p)
        body: Any = os.readlink(p) if stat.S_ISLNK(st.st_mode) else \
            p.read_bytes() if stat.S_ISREG(st.st_mode) else sorted(os.listdir(p))
        out[str(p)] = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid,
                       stat.S_IMODE(st.st_mode), body)
    return out


class Attacker:
    """A process of the application user that carries out one swap when asked."""

    def __init__(self, sc: Scene) -> None:
        self.scene = sc
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the attacker's own process
            os.close(self._cmd_w)
            os.close(self._res_r)
            code = 0
            try:
                os.setgroups([])
                os.setresgid(sc.gid, sc.gid, sc.gid)
                os.setresuid(sc.uid, sc.uid, sc.uid)
                _serve(sc, cmd_r, res_w)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(cmd_r)
        os.close(res_w)
        self._replies = os.fdopen(self._res_r, "r")

    def swap(self, path: str, how: str) -> str:
        os.write(self._cmd_w, (json.dumps([how, path]) + "\n").encode())
        return self._replies.readline().strip()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._cmd_w)
        self._replies.close()
        os.waitpid(self.pid, 0)


def _serve(sc: Scene, cmd_r: int, res_w: int) -> None:  # pragma: no cover - in the attacker
    n = 0
    with os.fdopen(cmd_r, "r") as commands:
        for line in commands:
            how, path = json.loads(line)
            n += 1
            try:
                _attack(sc, how, path, n)
                reply = "done"
            except OSError as exc:
                reply = f"refused {exc.strerror}"
            os.write(res_w, (reply + "\n").encode())


def _move_away(sc: Scene, path: str, n: int) -> None:  # pragma: no cover
    """Out of the way: into the attacker's own directory, or beside it on another file
    system (a tmpfs share)."""
    try:
        os.rename(path, str(sc.area / f"moved-{n}"))
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        os.rename(path, f"{path}.moved-{n}")


def _attack(sc: Scene, how: str, path: str, n: int) -> None:  # pragma: no cover
    if how == "dir-swap":
        _move_away(sc, path, n)
        os.symlink(str(sc.canary / "dir"), path)
        return
    if how == "dir-own":  # a directory of the attacker's own where root made or uses one
        if os.path.lexists(path):
            _move_away(sc, path, n)
        os.mkdir(path, 0o777)
        return
    if os.path.lexists(path):
        _move_away(sc, path, n)
    if how == "hardlink":
        os.link(sc.canary / "linkable", path)
        return
    target = {"symlink-file": sc.canary / "secret", "symlink-dir": sc.canary / "dir",
              "symlink-dangling": sc.canary / "dir/planted"}[how]
    os.symlink(str(target), path)


class _Counter:
    """Pause points passed and swaps done, shared with forked children (the steps
    safefs.drop runs as the tree's owner pass points too)."""

    def __init__(self) -> None:
        self._mem = mmap.mmap(-1, 16)

    def _get(self, slot: int) -> int:
        return int(struct.unpack("q", self._mem[slot * 8:slot * 8 + 8])[0])

    def _bump(self, slot: int) -> int:
        now = self._get(slot) + 1
        self._mem[slot * 8:slot * 8 + 8] = struct.pack("q", now)
        return now

    @property
    def value(self) -> int:
        return self._get(0)

    @property
    def swaps(self) -> int:
        return self._get(1)

    def bump(self) -> int:
        return self._bump(0)

    def swapped(self) -> None:
        self._bump(1)


def _path_of(dir_fd: int, name: str) -> tuple[str, str]:
    """(the directory's path, the entry's path or '') for a pause point."""
    directory = os.readlink(f"/proc/self/fd/{dir_fd}")
    return directory, (f"{directory}/{name}" if name else "")


@dataclass(frozen=True)
class Outcome:
    points: int  # pause points the run passed
    swaps: int  # swaps the attacker made (0 or 1)
    attacked: str  # what the attacker was asked (in this process), and said
    error: str  # the HookFailed message, or ''
    paths: tuple[str, ...] = ()  # every entry and directory used (in this process)


def run_attacked(action: Callable[[], None], at: int, how: str,
                 attacker: Attacker | None) -> Outcome:
    """Run `action` with the attacker swapping at point `at` (0: never). Any exception but
    a FatalError is re-raised: that is a bug of the action."""
    counter, said = _Counter(), []
    used = tempfile.TemporaryFile()  # noqa: SIM115 (written by forked steps too: inherited)

    def callback(_op: str, dir_fd: int, name: str) -> None:
        directory, entry = _path_of(dir_fd, name)
        os.write(used.fileno(), os.fsencode(entry or directory) + b"\0")
        if counter.bump() != at or attacker is None:
            return
        target = directory if how in ("dir-swap", "dir-own") and not entry else \
            directory if how == "dir-swap" else entry
        if not target or target == "/":
            said.append("no entry here")
            return
        reply = attacker.swap(target, how)
        if reply == "done":
            counter.swapped()
        said.append(f"{how} {target}: {reply}")

    before = pause.install(callback)
    error = ""
    try:
        action()
    except FatalError as exc:
        error = str(exc)
    finally:
        pause.install(before)
        used.seek(0)
        paths = tuple(dict.fromkeys(os.fsdecode(p) for p in used.read().split(b"\0") if p))
        used.close()
    return Outcome(counter.value, counter.swaps, "; ".join(said), error, paths)


def run_planted(action: Callable[[], None], path: str, how: str,
                attacker: Attacker) -> Outcome:
    """Run `action` after the attacker put its link at `path` (or moved the directory
    `path` away for one), as though it had been there all along."""
    reply = attacker.swap(path, how)
    outcome = run_attacked(action, 0, how, None)
    return Outcome(outcome.points, int(reply == "done"), f"{how} {path}: {reply}",
                   outcome.error, outcome.paths)
