"""`agentkit image build`: an instance image from a package list, where this machine has
debootstrap (Debian, Ubuntu): a minimal root file system with the packages (and python3, which
the box's systemctl runs on, as Amazon Linux 2023 has it), written as a tar.gz that
`verify --image` takes, like `docker export` gives.

debootstrap(8) must run as real root: it makes device nodes, chroots and mounts /proc in the
target. The target directory is made beside the output, unmounted and removed afterwards (a
failed debootstrap can leave its /proc mounted there: nothing is removed through a mount),
and the tarball appears under its name only when complete.

agentkit is baked in as the golden AMI has it (packaging/): by default packaging/install.sh of
this checkout runs in the new system, on its own python3, from a wheelhouse made here for it (a
venv at /opt/agentkit and the /usr/local/bin/agentkit wrapper); or a given .deb is installed
with dpkg. Bundles whose hooks
call agentkit (the hook shim) then run against the image as on the instance, not exit 127.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
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


class Bake(NamedTuple):
    """What agentkit goes into the image: `checkout` (this source tree, through
    packaging/install.sh), `deb` (that package file) or nothing (`none`)."""

    kind: str
    path: str | None = None


BAKE_CHECKOUT = Bake("checkout")
BAKE_NONE = Bake("none")
_CHECKOUT_FILES = ("agentkit", "pyproject.toml", "setup.py", "README.md", "packaging/install.sh")
_IN_IMAGE = "/tmp/agentkit-bake"  # where the sources or the package lie during the bake


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


def bake(package: str | None, none: bool) -> Bake:
    """--agentkit-package FILE.deb, --no-agentkit, or this checkout; checked before any
    debootstrap."""
    if none:
        return BAKE_NONE
    if package is None:
        checkout()  # a missing one is said now, not after minutes of debootstrap
        return BAKE_CHECKOUT
    if package.endswith(".rpm"):
        raise UsageError(f"agentkit image build --agentkit-package {package}: an .rpm is for "
                         "Amazon Linux and RHEL images, and image build makes Debian and "
                         "Ubuntu ones: give the .deb of packaging/build-deb.sh (built on the "
                         "image's release), or make an Amazon Linux image with dnf "
                         "--installroot and `rpm --root DIR -i` the .rpm into it.")
    if not package.endswith(".deb"):
        raise UsageError(f"agentkit image build --agentkit-package {package}: expected a .deb "
                         "(packaging/build-deb.sh makes one).")
    if not os.path.isfile(package):
        raise FatalError(f"agentkit image build --agentkit-package {package}: no such file.")
    return Bake("deb", os.path.abspath(package))


def checkout() -> Path:
    """The source tree this agentkit runs from, which packaging/install.sh installs."""
    root = Path(__file__).resolve().parents[2]
    if all((root / name).exists() for name in _CHECKOUT_FILES):
        return root
    raise FatalError("agentkit image build bakes agentkit into the image from its source "
                     f"checkout, and this agentkit ({root}) was installed from a package, not "
                     "run from a checkout: give the .deb of packaging/build-deb.sh with "
                     "--agentkit-package FILE.deb, or --no-agentkit for an image without it.")


def packages_for(r: Recipe, b: Bake) -> Recipe:
    """install.sh makes a venv on the image's python3: Debian splits ensurepip off it."""
    if b.kind != "checkout" or "python3-venv" in r.packages:
        return r
    return r._replace(packages=(*r.packages, "python3-venv"))


def build(r: Recipe, output: str, agentkit: Bake = BAKE_NONE) -> str:
    """Make the image at `output` (a .tar.gz) with `agentkit` baked in; returns its absolute
    path."""
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
        _debootstrap(debootstrap, packages_for(r, agentkit), target)
        _bake(agentkit, target)
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


def _bake(b: Bake, target: str) -> None:
    if b.kind == "none":
        return
    staging = os.path.join(target, _IN_IMAGE.lstrip("/"))
    os.makedirs(staging)
    try:
        if b.kind == "deb":
            assert b.path is not None
            shutil.copyfile(b.path, os.path.join(staging, "agentkit.deb"))
            _in_image(target, ["dpkg", "-i", f"{_IN_IMAGE}/agentkit.deb"],
                      f"dpkg -i of {b.path}", "a .deb built on another release needs another "
                      "python3: build it with packaging/build-deb.sh on the image's release")
        else:
            source = checkout()
            os.makedirs(os.path.join(staging, "packaging"))
            shutil.copy2(source / "packaging" / "install.sh",
                         os.path.join(staging, "packaging", "install.sh"))
            _wheelhouse(source, target, os.path.join(staging, "wheels"))
            _in_image(target, ["/bin/sh", f"{_IN_IMAGE}/packaging/install.sh", "--wheelhouse",
                               f"{_IN_IMAGE}/wheels"],
                      f"packaging/install.sh of {source}", "see its message above")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _wheelhouse(source: Path, target: str, out: str) -> None:
    """packaging/build-wheelhouse.sh's wheels, made here for the image's python3 and C library
    (this machine's pip and its index settings; the new system has neither pip nor, maybe, a
    way to PyPI): agentkit's own wheel, then its dependencies' binary wheels."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    copy = os.path.join(out, ".source")
    for name in _CHECKOUT_FILES:  # a build in a copy leaves no build/ in the checkout
        into = os.path.join(copy, name)
        os.makedirs(os.path.dirname(into), exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, into, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / name, into)
    _pip([*pip, "wheel", "-q", "--no-deps", "--wheel-dir", out, copy], "the agentkit wheel")
    shutil.rmtree(copy)
    (wheel,) = [n for n in os.listdir(out) if n.startswith("agentkit-") and n.endswith(".whl")]
    version, glibc = _image_python(target)
    machine = os.uname().machine  # the image's too: debootstrap made it for this machine
    # every manylinux the image's glibc runs (2.17 is the oldest wheels still target)
    platforms = [*(f"manylinux_2_{minor}_{machine}" for minor in range(17, glibc + 1)),
                 f"linux_{machine}"]
    _pip([*pip, "download", "-q", "--only-binary=:all:", "--dest", out, "--python-version",
          version, "--implementation", "cp", *(a for p in platforms for a in ("--platform", p)),
          os.path.join(out, wheel)],
         f"the wheels of agentkit's dependencies for python {version}")


def _image_python(target: str) -> tuple[str, int]:
    """The image's python3 version (`3.11`) and its glibc's minor version (36 for 2.36)."""
    out = _in_image(target, ["/usr/bin/python3", "-c", "import platform, sys; print("
                             "'%d.%d' % sys.version_info[:2], platform.libc_ver()[1])"],
                    "python3 of the image", "debootstrap installed it")
    version, libc = out.split()
    return version, int(libc.split(".")[1])


def _pip(argv: list[str], what: str) -> None:
    try:
        done = proc.run(argv, timeout=DEBOOTSTRAP_TIMEOUT)
    except proc.TimedOut:
        raise FatalError(f"baking agentkit into the image: pip did not make {what} in "
                         f"{DEBOOTSTRAP_TIMEOUT} s; check that the package index is "
                         "reachable.") from None
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise FatalError(f"baking agentkit into the image: pip could not make {what} "
                         f"({' | '.join(tail)}); check that the package index is reachable, "
                         "or give --agentkit-package FILE.deb.")


def _in_image(target: str, argv: list[str], what: str, hint: str) -> str:
    """Run `argv` chrooted into the new system, with a plain root environment; its output."""
    chroot = proc.which("chroot") or "/usr/sbin/chroot"
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = proc.run([chroot, target, *argv], env=env, timeout=DEBOOTSTRAP_TIMEOUT)
    except proc.TimedOut:
        raise FatalError(f"baking agentkit into the image: {what} did not finish in "
                         f"{DEBOOTSTRAP_TIMEOUT} s; {hint}.") from None
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-5:]
        raise FatalError(f"baking agentkit into the image: {what} exited {done.returncode}: "
                         f"{' | '.join(tail)}; {hint}.")
    return done.stdout
