"""`agentkit image build`: an instance image from a package list, where this machine has
debootstrap (Debian, Ubuntu): a minimal root file system with the packages (and python3, which
the box's systemctl runs on, as Amazon Linux 2023 has it), written as a tar.gz that
`verify --image` takes, like `docker export` gives.

debootstrap(8) must run as real root: it makes device nodes, chroots and mounts /proc in the
target. The target directory is made beside the output, unmounted and removed afterwards (a
failed debootstrap can leave its /proc mounted there: nothing is removed through a mount),
and the tarball appears under its name only when complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import NamedTuple

from agentkit import fstree, mountinfo, proc
from agentkit.errors import FatalError, UsageError

ALWAYS = ("python3",)  # the box's systemctl and service run on the image's python3
DEFAULT_MIRRORS = {"debian": "http://deb.debian.org/debian",
                   "ubuntu": "http://archive.ubuntu.com/ubuntu"}
DEFAULT_RELEASES = {"debian": "bookworm", "ubuntu": "noble"}
DEBOOTSTRAP_TIMEOUT = 3600
SBIN = ("/usr/sbin", "/sbin")  # where debootstrap is when a plain PATH lacks them
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy 5.6.1
_RELEASE = re.compile(r"^[a-z][a-z0-9-]*$")


class Recipe(NamedTuple):
    distribution: str  # debian or ubuntu
    release: str  # bookworm, noble...
    packages: tuple[str, ...]  # with ALWAYS
    mirror: str


def recipe(distribution: str, release: str | None, packages: list[str],
           mirror: str | None) -> Recipe:
    """The build as asked, checked before anything runs."""
    names = [p.strip() for group in packages for p in group.split(",") if p.strip()]
    bad = [p for p in names if not _PACKAGE.match(p)]
    if bad:
        raise UsageError(f"agentkit image build --packages: {', '.join(bad)} is not a package "
                         "name (lower case letters, digits, + - .; e.g. nginx,curl).")
    release = release or DEFAULT_RELEASES[distribution]
    if not _RELEASE.match(release):
        raise UsageError(f"agentkit image build --release {release}: not a release code name "
                         f"(e.g. {DEFAULT_RELEASES[distribution]}).")
    return Recipe(distribution, release, tuple(dict.fromkeys([*ALWAYS, *names])),
                  mirror or DEFAULT_MIRRORS[distribution])


def build(r: Recipe, output: str) -> str:
    """Make the image at `output` (a .tar.gz); returns its absolute path."""
    if os.geteuid() != 0:
        raise FatalError("agentkit image build runs debootstrap, which needs real root (it "
                         "makes device nodes and chroots into the new system): run it with "
                         "sudo, or make the image with `docker export` of a container.")
    debootstrap = proc.which("debootstrap") or next(
        (p for p in (f"{d}/debootstrap" for d in SBIN) if os.access(p, os.X_OK)), None)
    if debootstrap is None:
        raise FatalError("agentkit image build needs debootstrap (apt-get install "
                         "debootstrap). On Amazon Linux, make the image with `dnf "
                         "--installroot=DIR --releasever=2023 install python3 PACKAGES` and "
                         "`tar -C DIR -czf image.tar.gz .`, or `docker export` of a container.")
    output = os.path.abspath(output)
    where = os.path.dirname(output)
    if not os.path.isdir(where):
        raise FatalError(f"agentkit image build -o {output}: {where} is not a directory.")
    target = tempfile.mkdtemp(prefix=".agentkit-image-", dir=where)
    try:
        _debootstrap(debootstrap, r, target)
        _trim(target)
        _pack(target, output)
    except BaseException:
        with contextlib.suppress(FatalError):  # the build's own error is the one to show
            _discard(target)
        raise
    _discard(target)
    return output


def _debootstrap(program: str, r: Recipe, target: str) -> None:
    argv = [program, "--variant=minbase", f"--include={','.join(r.packages)}", r.release,
            target, r.mirror]
    try:
        done = proc.run(argv, timeout=DEBOOTSTRAP_TIMEOUT)
    except proc.TimedOut:
        raise FatalError(f"debootstrap of {r.distribution} {r.release} did not finish in "
                         f"{DEBOOTSTRAP_TIMEOUT} s; check that the mirror {r.mirror} is "
                         "reachable and not slow (--mirror URL).") from None
    if done.returncode == 0:
        return
    log = os.path.join(target, "debootstrap", "debootstrap.log")
    tail = _tail(log) or (done.stderr or done.stdout).strip().splitlines()[-5:]
    raise FatalError(f"debootstrap of {r.distribution} {r.release} with "
                     f"{', '.join(r.packages)} from {r.mirror} exited {done.returncode}; its "
                     f"log ends: {' | '.join(tail)}. Check the release and package names and "
                     "that the mirror is reachable (--mirror URL).")


def _tail(path: str, lines: int = 5) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip() for line in f.read().splitlines() if line.strip()][-lines:]
    except OSError:
        return []


def _trim(target: str) -> None:
    """What an instance does not have and the image need not carry: downloaded packages and
    the apt lists (tens of MB)."""
    for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
        full = os.path.join(target, d)
        for name in os.listdir(full) if os.path.isdir(full) else []:
            path = os.path.join(full, name)
            if name not in ("partial", "lock") and not os.path.isdir(path):
                os.unlink(path)


def _pack(target: str, output: str) -> None:
    partial = f"{output}.partial"
    # numeric owners: the image's ids, not names looked up on this machine; one file system:
    # never what is mounted below the target
    try:
        done = proc.run(["tar", "--numeric-owner", "--one-file-system", "--exclude=./debootstrap",
                         "-C", target, "-czf", partial, "."], timeout=DEBOOTSTRAP_TIMEOUT)
    except proc.TimedOut as exc:
        if os.path.exists(partial):
            os.unlink(partial)
        raise FatalError(f"tar of the new image into {partial}: {exc.strerror}; check the "
                         "disk it writes to.") from None
    if done.returncode != 0:
        if os.path.exists(partial):
            os.unlink(partial)
        raise FatalError(f"tar of the new image into {partial} exited {done.returncode}: "
                         f"{done.stderr.strip()[-300:]}")
    os.rename(partial, output)


def _mounts_below(target: str) -> list[str]:
    """Mount points at or below the target, deepest first (the order to unmount them)."""
    return sorted(mountinfo.at_or_below(os.path.realpath(target)), key=lambda p: -p.count("/"))


def _discard(target: str) -> None:
    """Unmount what debootstrap left mounted in the target, deepest first, then remove it;
    with a mount left, the directory is left too (never removed through a mount)."""
    for point in _mounts_below(target):
        with contextlib.suppress(proc.TimedOut):  # what is left mounted is said below
            proc.run(["umount", "-l", point], timeout=60)
    left = _mounts_below(target)
    if left:
        raise FatalError(f"{target} still has {left[0]} mounted; unmount it and remove the "
                         "directory by hand.")
    fstree.remove_tree(target)
