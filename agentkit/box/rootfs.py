"""The box's root file system, built by pid 1 inside its user and mount namespaces.

Two tmpfs of the box's own: the layers (L: what Install put there, what the box adds) and the
upper (U: every write of a hook, size-limited, so a hook that fills it meets ENOSPC as on a
full disk, never the host's disk). U holds every place a hook may write: the overlays' upper
directories, /run, /dev/shm and the agent's deployment root (an overlay over verify's own
directory, copied back by verify after each event: verify/fold.py), so --max-disk bounds their
total. Each tree of the host is an overlay at its own path
(`lowerdir=/usr` for the whole of / is refused in a user namespace: /proc, /sys and /dev are
locked mounts) over its copies in L; then a fresh /proc with the machine-wide files masked and
/proc/sys read-only, a /dev of a few devices and a new devpts, an empty /run, the
agent's deployment root and masks (verify's own files, credentials). Then pivot_root into it
and detach the old root: no path leads back to the host (bubblewrap's bind_mount/pivot_root
sequence in bubblewrap.c setup_newroot is the model).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field

from agentkit import mountinfo
from agentkit.box import syscalls as sc
from agentkit.box.layers import Upper
from agentkit.box.spec import DEVICES, PROC_MASKED, PROC_READ_ONLY, SECRETS, Spec

SPECIAL = ("proc", "dev", "sys", "run")  # made fresh, never shown from the host
MAX_INODES = 1 << 20  # files, directories and links the hooks may make in all


@dataclass
class Root:
    base: str  # the tmpfs holding L and U, as seen before pivot_root
    layers: str  # L
    upper: str  # U
    uppers: list[tuple[str, str]] = field(default_factory=list)  # (upper dir, box path)
    bound: list[str] = field(default_factory=list)  # box paths bound from verify's disk
    copied: set[str] = field(default_factory=set)  # shown trees copied into L, not mounted
    tops: set[str] = field(default_factory=set)  # names mounted at the top of the root
    notes: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return f"{self.upper}/root"

    def install(self, box_path: str = "") -> str:
        return f"{self.layers}/install{box_path}"

    def extra(self, box_path: str = "") -> str:
        return f"{self.layers}/extra{box_path}"


def prepare(spec: Spec, at: str) -> Root:
    """Mount the two tmpfs at `at` (a directory of verify's)."""
    sc.mount("tmpfs", at, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=0755")
    at = _by_descriptor(at)
    layers, upper = f"{at}/L", f"{at}/U"
    for d in (layers, upper, f"{layers}/install", f"{layers}/extra"):
        os.mkdir(d, 0o755)
    # (inodes bounded too: an empty file costs no size, but kernel memory, and verify's
    # walk of the layers, time)
    sc.mount("tmpfs", upper, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV,
             f"mode=0755,size={max(spec.max_disk, 1 << 20)},nr_inodes={MAX_INODES}")
    for d in ("root", "up", "wk", "run", "shm"):
        os.mkdir(f"{upper}/{d}", 0o755)
    return Root(at, layers, upper)


def _by_descriptor(path: str) -> str:
    """`path` as /proc/self/fd/N, a descriptor pid 1 keeps (close-on-exec: no hook has it):
    the box's mounts name their layers and verify's directories that way, so
    /proc/self/mountinfo in the box does not show where verify keeps its files on this
    machine (its TMPDIR, its venv). The stage already names them so for real root
    (stage.STAGING_FD)."""
    if path.startswith("/proc/self/fd/"):
        return path
    return f"/proc/self/fd/{os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)}"


def grow(root: Root, size: int) -> None:
    """Let U take `size` more bytes (Install replayed into a running box lands there)."""
    st = os.statvfs(root.upper)
    total = st.f_blocks * st.f_frsize + size
    sc.mount("tmpfs", root.upper, "tmpfs", sc.MS_REMOUNT | sc.MS_NOSUID | sc.MS_NODEV,
             f"size={total}")


def _escape_ok(path: str) -> bool:
    return not any(c in path for c in ":,\\\n")


def _overlay(root: Root, index: int, box_path: str, host: str | None) -> bool:
    lowers = [p for p in (root.install(box_path), root.extra(box_path)) if os.path.isdir(p)]
    if host is not None and os.path.isdir(host):
        # (a tree shown under another name, e.g. verify's venv: named by descriptor)
        lowers.append(host if host == box_path else _by_descriptor(host))
    elif host is not None:
        lowers.append(host)
    if not lowers:
        return False
    target = root.root + box_path
    if not os.path.isdir(target):
        if box_path.count("/") == 1:
            os.mkdir(target, 0o755)
        else:
            root.notes.append(f"{box_path} is not shown to hooks (its mount point is gone)")
            return False
    if not all(_escape_ok(p) for p in lowers):
        root.notes.append(f"{box_path} is not shown to hooks (a character overlayfs "
                          "cannot take in its path)")
        return False
    up, wk = f"{root.upper}/up/{index}", f"{root.upper}/wk/{index}"
    os.mkdir(up, 0o755)
    os.mkdir(wk, 0o755)
    _like(up, lowers)
    try:
        sc.mount("overlay", target, "overlay", 0,
                 f"lowerdir={':'.join(lowers)},upperdir={up},workdir={wk},userxattr")
    except OSError as exc:
        if host is None:
            raise
        # A tree holding mounts this namespace may not see below (locked mounts) cannot be
        # an overlay's lower layer: show it read-only instead, or not at all (a writable
        # bind would let hooks change this machine's files).
        if not _read_only_bind(host, target):
            root.notes.append(f"{box_path} is not shown to hooks: an overlay may not take "
                              f"it in ({exc.strerror}) and it cannot be shown read-only")
            return False
        root.notes.append(f"{box_path} is shown to hooks read-only: it holds mounts of this "
                          f"machine that an overlay may not take in ({exc.strerror})")
        return True
    root.uppers.append((up, box_path))
    return True


# statvfs(3) flags a user namespace may not clear on a remount (mount(2): "locked"), and the
# mount(2) flags that keep them
_LOCKED = ((os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV),
           (os.ST_NOEXEC, sc.MS_NOEXEC), (os.ST_NOATIME, sc.MS_NOATIME),
           (os.ST_NODIRATIME, sc.MS_NODIRATIME), (os.ST_RELATIME, sc.MS_RELATIME))


def _read_only_bind(host: str, target: str) -> bool:
    """Bind `host` and the mounts below it at `target`, each read-only; False (and nothing
    left mounted) where the kernel refuses one read-only remount."""
    sc.mount(host, target, None, sc.MS_BIND | sc.MS_REC)
    try:
        points = mountinfo.at_or_below(os.path.realpath(target))
        if os.path.realpath(target) not in points:
            raise OSError(f"{target}: not found among the mounts")
        for point in points:
            kept = 0
            with contextlib.suppress(OSError):
                flags = os.statvfs(point).f_flag
                kept = sum(ms for st, ms in _LOCKED if flags & st)
            sc.mount(None, point, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | kept)
        return True
    except OSError:
        sc.umount(target, sc.MNT_DETACH)
        return False


def mount_trees(spec: Spec, root: Root) -> None:
    """The host's trees and what the layers add, each an overlay at its own path."""
    shown = {box: host for box, host in spec.shown if box not in root.copied}
    tops = {p.split("/")[1] for p in shown if p.count("/") == 1}
    for layer in (root.install(), root.extra()):
        tops.update(n for n in os.listdir(layer) if os.path.isdir(f"{layer}/{n}") and
                    not os.path.islink(f"{layer}/{n}"))
    tops.difference_update(SPECIAL)
    for name, target in spec.top_links:  # the lower root's top-level links: /bin -> usr/bin
        if name not in tops:
            os.symlink(target, f"{root.root}/{name}")
    nested = sorted((p for p in shown if p.count("/") > 1), key=lambda p: (p.count("/"), p))
    for index, box_path in enumerate([f"/{t}" for t in sorted(tops)] + nested, 1):
        if _overlay(root, index, box_path, shown.get(box_path)):
            root.tops.add(box_path)


def _mask_dir(path: str, mode: int = 0o755) -> None:
    sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV,
             f"size=4k,mode={mode:o}")


def _proc(root: str) -> None:
    target = f"{root}/proc"
    os.makedirs(target, exist_ok=True)
    sc.mount("proc", target, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    for name in PROC_MASKED:
        path = f"{target}/{name}"
        with contextlib.suppress(OSError):
            if os.path.isdir(path):
                _mask_dir(path)
            elif os.path.exists(path):
                sc.mount("/dev/null", path, None, sc.MS_BIND)
                sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
    for name in PROC_READ_ONLY:
        path = f"{target}/{name}"
        with contextlib.suppress(OSError):
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
            sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def _dev(root: str, upper: str) -> None:
    dev = f"{root}/dev"
    os.makedirs(dev, exist_ok=True)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        with open(f"{dev}/{name}", "w"):
            pass
        sc.mount(f"/dev/{name}", f"{dev}/{name}", None, sc.MS_BIND)
    os.mkdir(f"{dev}/pts", 0o755)
    try:
        sc.mount("devpts", f"{dev}/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620")
        os.symlink("pts/ptmx", f"{dev}/ptmx")
    except OSError:
        pass  # no pseudo-terminals then; nothing of the host's is shown instead
    os.mkdir(f"{dev}/shm", 0o1777)
    os.chmod(f"{upper}/shm", 0o1777)  # (in U: counted in --max-disk with every other write)
    sc.mount(f"{upper}/shm", f"{dev}/shm", None, sc.MS_BIND | sc.MS_NOSUID | sc.MS_NODEV)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    sc.mount(None, dev, None, sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NOEXEC,
             "mode=0755,size=64k")  # nothing new in /dev: a file named kmsg is no device


def _sys(root: str, network: bool) -> None:
    target = f"{root}/sys"
    os.makedirs(target, exist_ok=True)
    if not network:  # sysfs is the box's to mount only with a network namespace of its own
        with contextlib.suppress(OSError):
            sc.mount("sysfs", target, "sysfs",
                     sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
            return
    _mask_dir(target)


def _writable(root: Root, index: int, box_path: str, host: str) -> None:
    """A directory of verify's that hooks write into (the agent's deployment root): an
    overlay whose upper directory is in U, so what they write there counts against
    --max-disk with the rest; verify copies it back to its own directory after each event.
    Where overlayfs refuses, a bind, and a note that writes there are not bounded."""
    target = root.root + box_path
    up, wk = f"{root.upper}/up/{index}", f"{root.upper}/wk/{index}"
    os.mkdir(up, 0o755)
    os.mkdir(wk, 0o755)
    _like(up, [host])
    why = "a character overlayfs cannot take in its path"
    if _escape_ok(host):
        try:
            sc.mount("overlay", target, "overlay", 0,
                     f"lowerdir={host},upperdir={up},workdir={wk},userxattr")
            root.uppers.append((up, box_path))
            return
        except OSError as exc:
            why = f"overlayfs refused it: {exc.strerror}"
    sc.mount(host, target, None, sc.MS_BIND)
    root.bound.append(box_path)
    root.notes.append(f"what hooks write in {box_path} is not bounded by --max-disk ({why})")


def mount_specials(spec: Spec, root: Root) -> None:
    r = root.root
    _proc(r)
    _dev(r, root.upper)
    _sys(r, spec.network)
    os.makedirs(f"{r}/run", exist_ok=True)
    sc.mount(f"{root.upper}/run", f"{r}/run", None, sc.MS_BIND | sc.MS_NOSUID | sc.MS_NODEV)
    os.mkdir(f"{r}/run/lock")
    os.chmod(f"{r}/run/lock", 0o1777)  # mkdir's mode passes through the umask
    for index, (box_path, host) in enumerate(spec.binds):
        if os.path.isdir(r + box_path):
            _writable(root, 9000 + index, box_path, _by_descriptor(host))
    for box_path in spec.masks:
        with contextlib.suppress(OSError):
            if os.path.isdir(r + box_path) and not os.path.islink(r + box_path):
                _mask_dir(r + box_path)
    empty = root.extra("/.agentkit-empty")
    with open(empty, "w"):
        pass
    os.chmod(empty, 0o400)
    for home in spec.homes:
        for name in SECRETS:
            path = f"{r}{home}/{name}"
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    _mask_dir(path, 0o700)
                elif stat.S_ISREG(st.st_mode):
                    sc.mount(empty, path, None, sc.MS_BIND | sc.MS_RDONLY)


def enter(root: Root) -> None:
    """pivot_root into the box's root and detach the host's (pivot_root(".", ".") then
    umount of the old root stacked on it, as bubblewrap and runc do)."""
    new = root.root
    sc.mount(new, new, None, sc.MS_BIND | sc.MS_REC)
    os.chdir(new)
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")


def _like(up: str, lowers: list[str]) -> None:
    """The merged directory of an overlay has its upper directory's mode and owner
    (overlayfs(5): the root is always the upper's): give it the top lower's, so /tmp stays
    1777 and /var/www its owner's in the box."""
    for lower in lowers:
        with contextlib.suppress(OSError):
            st = os.stat(lower)
            with contextlib.suppress(OSError):
                os.lchown(up, st.st_uid, st.st_gid)
            os.chmod(up, stat.S_IMODE(st.st_mode))
            return


def uppers(root: Root, fds: dict[str, int]) -> list[Upper]:
    """The upper layers as open directories (opened before pivot_root: afterwards no path
    leads to them), plus the root's own directory for what hooks make at the top."""
    out = [Upper(fds[up], box_path, frozenset()) for up, box_path in root.uppers]
    out.append(Upper(fds["/"], "/", frozenset(t.lstrip("/") for t in root.tops) |
                     frozenset(SPECIAL) | frozenset(
                         n for n in os.listdir(root.root) if os.path.islink(f"{root.root}/{n}"))))
    return out
