"""The instance's root file system that `verify --image` shows hooks and judges Install
against, instead of this machine's /: a directory, or a tar / tar.gz of one (`docker export`
of an amazonlinux:2023 container, the files of a golden AMI), unpacked once into a cache
($XDG_CACHE_HOME/agentkit/images/<sha256>).

Owners are kept as the box will show them (image_tar.py unpacks): real root gives the image's
ids as they are; a plain user with a subordinate range unpacks as root of a namespace with
the box's own map (box/mapped.py), so the image's uid 1234 is the box's 1234; a user with no
range gets every file as its own, which the box shows as root's. An entry records which of
these made it, and one made another way is unpacked again. Its files may then belong to the
user's subordinate ids, which the user cannot delete directly: `agentkit image remove` can.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import NamedTuple

from agentkit import digests, environ, fstree
from agentkit.box import ids, mapped
from agentkit.errors import BadInput, FatalError
from agentkit.image import unpack as image_tar

COMPLETE = ".agentkit-image-complete"  # written last: a cache entry without it is half made
LOCK = ".lock"  # held while an entry is unpacked or removed


class Image(NamedTuple):
    root: str  # the directory shown as /
    notes: tuple[str, ...]


class Entry(NamedTuple):
    """One unpacked tarball in the cache."""

    root: str
    digest: str
    source: str  # the tarball it was unpacked from, as given then
    owners: str  # how owners were given (owner_scheme)
    unpacked: float  # when (seconds since the epoch)
    notes: tuple[str, ...]


def default_cache() -> str:
    return os.path.join(environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "agentkit", "images")


def owner_scheme(idmap: ids.IdMap) -> str:
    """How this caller's unpacking gives owners: an entry made another way shows other
    owners in the box, so it is made again."""
    if idmap.kind == "range":
        uids = ";".join(f"{a}:{b}:{c}" for a, b, c in idmap.uids)
        gids = ";".join(f"{a}:{b}:{c}" for a, b, c in idmap.gids)
        return f"subordinate ids, uids {uids}, gids {gids}"
    return "as they are" if idmap.kind == "shifted" else "all the caller's"


def prepare(path: str, cache: str | None = None) -> Image:
    """The image's root directory, unpacking a tarball into the cache when needed."""
    if os.path.isdir(path):
        return Image(_check_root(os.path.realpath(path), path), ())
    if not os.path.isfile(path):
        raise BadInput(f"--image {path}: no such directory or file; give the instance's root "
                       "file system as a directory or a tar/tar.gz of one (docker export).")
    digest = digests.file_sha256(path)
    base = cache or default_cache()
    idmap = ids.choose()
    found = read_entry(os.path.join(base, digest))
    if found is None or found.owners != owner_scheme(idmap):
        os.makedirs(base, exist_ok=True)
        try:
            found = mapped.call(idmap, _fill, path, base, digest, owner_scheme(idmap),
                                _notes(idmap))
        except mapped.Unmappable as exc:  # e.g. a container that refuses unshare
            single = ids.IdMap("single", ((0, os.getuid(), 1),), ((0, os.getgid(), 1),))
            found = read_entry(os.path.join(base, digest))
            if found is None or found.owners != owner_scheme(single):
                found = _fill(path, base, digest, owner_scheme(single),
                              (*_notes(single), f"owners could not be kept: {exc}"))
    return Image(_check_root(found.root, path), found.notes)


def entries(cache: str | None = None) -> list[Entry]:
    """The cache's complete entries, newest first."""
    base = cache or default_cache()
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    found = (read_entry(os.path.join(base, n)) for n in names if not n.startswith("."))
    return sorted((e for e in found if e), key=lambda e: -e.unpacked)


def half_made(cache: str | None = None) -> list[str]:
    """Directories of unpackings or removals that were killed (the next unpacking of that
    image removes its own; these are all of them)."""
    base = cache or default_cache()
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    return [os.path.join(base, n) for n in sorted(names) if n.startswith(".") and
            os.path.isdir(os.path.join(base, n)) and not os.path.islink(os.path.join(base, n))]


@contextlib.contextmanager
def in_use(root: str | None) -> Iterator[None]:
    """While verify runs over a cache entry: a shared lock, so `agentkit image remove` (or a
    re-unpacking) does not take the box's lower layer away under it."""
    if root is None or read_entry(root) is None:
        yield  # a directory given as it is: not the cache's to remove
        return
    fd = os.open(_use_file(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def remove(root: str) -> None:
    """Remove one entry (or a half-made one) of the cache, whoever of the caller's ids owns
    its files."""
    mapped.call(ids.choose(), _remove_locked, root)


def read_entry(root: str) -> Entry | None:
    try:
        with open(os.path.join(root, COMPLETE), encoding="utf-8") as f:
            raw = json.load(f)
        return Entry(root, os.path.basename(root), str(raw["source"]), str(raw["owners"]),
                     float(raw["unpacked"]), tuple(str(n) for n in raw["notes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # half made, or written by an older agentkit: made again


def _notes(idmap: ids.IdMap) -> tuple[str, ...]:
    if idmap.kind == "single":
        return ("the image was unpacked by a user who is not root: its files are that "
                "user's, so the box shows them all as root's",)
    return ()


def _fill(path: str, base: str, digest: str, scheme: str, notes: tuple[str, ...]) -> Entry:
    """Unpack into base/digest (in the mapped namespace, where one is used), under the lock:
    a second verify of the same image waits and then finds it made."""
    root = os.path.join(base, digest)
    with _locked(base):
        found = read_entry(root)
        if found and found.owners == scheme:
            return found
        for name in os.listdir(base):  # half-made copies of killed runs: nobody works on them
            if name.startswith(f".{digest[:12]}-"):
                _remove_tree(os.path.join(base, name))
        tmp = tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=base)
        os.chmod(tmp, 0o755)  # as an image's / is (its tar rarely has a member for ./)
        try:
            done = image_tar.unpack(path, tmp)
            entry = Entry(root, digest, os.path.abspath(path), scheme, time.time(),
                          notes + _unpack_notes(done))
            _write_marker(tmp, entry)
            _take_away(root)  # made another way, or half made
            os.rename(tmp, root)
        except BaseException:
            _remove_tree(tmp)
            raise
    return entry


def _unpack_notes(done: image_tar.Unpacked) -> tuple[str, ...]:
    notes = []
    if done.skipped:
        notes.append(f"the image's {done.skipped} device, fifo or unsafe member(s) were not "
                     "unpacked (the box has its own /dev)")
    if done.unowned:
        notes.append(f"the image's {done.unowned} file(s) owned by ids beyond your "
                     "subordinate range (/etc/subuid) are root's in the box")
    return tuple(notes)


def _write_marker(root: str, entry: Entry) -> None:
    with open(os.path.join(root, COMPLETE), "w", encoding="utf-8") as f:
        json.dump({"source": entry.source, "owners": entry.owners,
                   "unpacked": entry.unpacked, "notes": list(entry.notes)}, f, indent=1)


def _remove_locked(root: str) -> None:
    with _locked(os.path.dirname(root)):
        _take_away(root)


def _use_file(root: str) -> str:
    return os.path.join(os.path.dirname(root), f".{os.path.basename(root)}.use")


def _take_away(root: str) -> None:
    """Remove an entry nobody uses: renamed to a dot name first, so a removal that is killed
    leaves a half-made copy (which the next unpacking or `remove --all` removes), never an
    entry without its marker."""
    if not os.path.lexists(root):
        return
    if os.path.basename(root).startswith("."):  # half made: nobody uses it
        _remove_tree(root)
        return
    fd = os.open(_use_file(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FatalError(f"{root} is in use by a verify that is running; remove it when "
                             "that has finished.") from None
        gone = tempfile.mkdtemp(prefix=f".{os.path.basename(root)[:12]}-removing-",
                                dir=os.path.dirname(root))
        os.rename(root, gone + "/entry")
        _remove_tree(gone)
    finally:
        os.close(fd)  # the lock file stays: a verify may be waiting on it


def _remove_tree(root: str) -> None:
    """rm -rf of an entry (fstree makes its read-only directories writable on the way); an
    error if anything is left."""
    fstree.remove_tree(root)
    if os.path.lexists(root):
        raise FatalError(f"{root}: could not be removed entirely (its files belong to ids "
                         "this user no longer has, e.g. after /etc/subuid changed); remove it "
                         f"as root: sudo rm -rf {root}")


@contextlib.contextmanager
def _locked(base: str) -> Iterator[None]:
    fd = os.open(os.path.join(base, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_root(root: str, given: str) -> str:
    if not any(os.path.isdir(os.path.join(root, d)) for d in ("etc", "usr")):
        raise BadInput(f"--image {given}: it holds no etc/ or usr/, so it is not a root file "
                       "system; give the directory `docker export` (or the AMI) has at /.")
    return root


