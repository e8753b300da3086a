"""What hooks wrote in the agent's deployment root, copied back to verify's own directory.

In the box the deployment root is an overlay over verify's directory whose upper layer is in
the box's size-limited tmpfs (rootfs._writable): a hook's writes there count against
--max-disk with all the others, and never reach this machine's disk directly. After each
event verify copies what changed there (layers.Diff reports it like any other path) into its
directory, so that Install, the later events and the report see the deployment root as the
agent's would be. What is copied is bounded by that tmpfs.

The names come from the box: every parent is opened without following a link (a hook's link
copied back earlier must never lead verify's writes out of its directory), and what verify
reads there later it reads as regular files only (agentkit.beneath).
"""

from __future__ import annotations

import contextlib
import os
import stat

from agentkit import fstree
from agentkit.box.items import DIR, FILE, GONE, SYMLINK, Change

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _parent(host_root: str, rel: str) -> int:
    """The directory holding `rel` below host_root, each component opened without following
    a link (OSError if one is a link or missing)."""
    fd = os.open(host_root, _DIR & ~os.O_NOFOLLOW)
    for part in [p for p in os.path.dirname(rel).split("/") if p]:
        try:
            nxt = os.open(part, _DIR, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _clear(parent: int, name: str, keep_dir: bool = False) -> None:
    """Remove what is at `name` (a directory whole), unless it is a directory and
    `keep_dir`."""
    try:
        st = os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            fstree.remove_tree(f"/proc/self/fd/{parent}/{name}")
        return
    os.unlink(name, dir_fd=parent)


def _file(parent: int, name: str, change: Change, fd: int) -> None:
    tmp = f".agentkit-copy-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=parent)
    # readable and writable by verify whatever mode the hook gave it (it reads it later)
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o600, dir_fd=parent)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            os.write(out, chunk)
        os.fchmod(out, (change.mode & 0o777) | 0o600)
        os.utime(out, (change.mtime, change.mtime))
    finally:
        os.close(out)
    _clear(parent, name)
    os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)


def apply(host_root: str, box_root: str, change: Change, fd: int | None) -> str | None:
    """Make host_root show what the box shows at change.path (below box_root); returns why
    not, when it cannot (None: done)."""
    rel = change.path[len(box_root):].strip("/")
    if not rel:
        return None  # the deployment root itself: verify's directory stays as it is
    name = os.path.basename(rel)
    try:
        parent = _parent(host_root, rel)
    except OSError as exc:
        return f"{change.path}: {exc.strerror or exc}"
    try:
        if change.kind == GONE:
            _clear(parent, name)
        elif change.kind == DIR:
            _clear(parent, name, keep_dir=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=parent)
            made = os.open(name, _DIR, dir_fd=parent)
            try:
                os.fchmod(made, (change.mode & 0o7777) | 0o700)
            finally:
                os.close(made)
            if change.names is not None:  # opaque: what it held before and not now is gone
                keep = set(change.names)
                for gone in set(os.listdir(f"/proc/self/fd/{parent}/{name}")) - keep:
                    fstree.remove_tree(f"/proc/self/fd/{parent}/{name}/{gone}")
        elif change.kind == SYMLINK:
            _clear(parent, name)
            os.symlink(change.target or "", name, dir_fd=parent)
        elif change.kind == FILE and fd is not None:
            _file(parent, name, change, fd)
        else:
            # a FIFO, socket or device (verify reads none of them: a FIFO stands for them, so
            # what verify would have read there is still not a regular file), or a file too
            # big to be sent (its digest only)
            _clear(parent, name)
            if change.kind == FILE:
                return f"{change.path}: {change.size} bytes, not copied back"
            os.mkfifo(name, 0o600, dir_fd=parent)
        return None
    except OSError as exc:
        return f"{change.path}: {exc.strerror or exc}"
    finally:
        os.close(parent)
