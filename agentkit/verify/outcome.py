"""What a deployment left behind, computed once when it ends: the final tree under the
`files` destinations and every path changed on this machine, as Nodes spilled to a file beside
the sandbox (a bundle's tree is tens of thousands of paths: memory stays flat), with counts.
"""

from __future__ import annotations

import heapq
import marshal
import os
import stat
from collections import Counter
from collections.abc import Iterator

from agentkit import fstree
from agentkit.agent.linked_dirs import MAX_COUNTED
from agentkit.appspec.model import AppSpec
from agentkit.hostview.view import Entry, HostView, kind
from agentkit.verify.result import Node, Nodes, Untouched

BATCH = 1024  # nodes per marshal record of a spill file


def spill(path: str, nodes: Iterator[Node]) -> Nodes:
    """Write nodes to `path`; the Nodes read them back, as often as asked."""
    counts: Counter[str] = Counter()
    with open(path, "wb") as f:
        batch: list[tuple[object, ...]] = []
        for node in nodes:
            batch.append(tuple(node))
            if node.change is not None:
                counts[node.change] += 1
            if len(batch) >= BATCH:
                marshal.dump(batch, f)
                batch = []
        if batch:
            marshal.dump(batch, f)
    return Nodes(path, dict(counts))


# Both lists come out sorted: the walk emits paths in order, the store keeps the touched ones
# by path.
def _node(sb: HostView, entry: Entry, change: str | None = None, digest: bool = True) -> Node:
    return Node(entry.path, entry.type, f"{entry.mode:04o}", entry.target,
                sb.sha_of(entry) if digest else None, f"{entry.uid}:{entry.gid}", change)


def tree(sb: HostView, spec: AppSpec | None, untouched: list[str] | None = None
         ) -> Iterator[Node]:
    """The final state under every `files` destination, sorted by path: each destination's
    entries and those of every directory the deployment touched, not the content of a host
    directory it did not (a destination such as /var/www on a busy host holds thousands of
    paths the deployment never saw); those directories are added to `untouched`."""
    tops: list[str] = []
    for dest in sorted({os.path.normpath(m.destination) for m in spec.files} if spec else ()):
        if not any(dest.startswith(t.rstrip("/") + "/") for t in tops):
            tops.append(dest)  # one inside another is walked with it
    touched = sb.records.touched_dirs()
    skipped = untouched if untouched is not None else []

    def into(directory: str) -> bool:
        if directory in touched:
            return True
        skipped.append(directory)
        return False

    walks = [sb.walk(t, into) for t in tops]
    for entry in walks[0] if len(walks) == 1 else heapq.merge(*walks, key=lambda e: e.path):
        yield _node(sb, entry)


def untouched_summary(sb: HostView, directories: list[str]) -> Untouched:
    """What the host holds below the directories the tree did not enter: counted on this
    host (the instance may hold other things there), up to MAX_COUNTED entries."""
    entries = size = 0
    for directory in directories:
        for _, st in fstree.walk_files(sb.host_path(directory)):
            if entries >= MAX_COUNTED:
                return Untouched(len(directories), entries, size, False)
            entries += 1
            size += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return Untouched(len(directories), entries, size, True)


def change_counts(sb: HostView) -> dict[str, int]:
    """How many paths changes() lists of each kind, for the text report: the bundle files in
    a directory this machine does not have are all created, counted by directory."""
    counts: Counter[str] = Counter()
    new_dirs = []
    for parent, count in sb.recorded_parents():
        if _host_lstat(sb, parent, set()) is None:
            counts["created"] += count
            new_dirs.append(parent)
    counts.update(node.change for node in changes(sb, False, tuple(new_dirs))
                  if node.change is not None)
    return dict(counts)


def changes(sb: HostView, digests: bool = True, skip_recorded_in: tuple[str, ...] = ()
            ) -> Iterator[Node]:
    """Every path the deployment created, modified or deleted, against this machine; without
    `digests` (the text report only counts them) no file is read back to hash it."""
    hidden = _hidden_deletions(sb)
    seen = None
    for node in heapq.merge(_touched_changes(sb, digests, skip_recorded_in), hidden,
                            key=lambda n: n.path):
        if node.path != seen:
            seen = node.path
            yield node


def _hidden_deletions(sb: HostView) -> list[Node]:
    """What the host has below a directory the deployment removed and made again (a hook's
    `rm -rf /opt/app`, then Install's mkdir): the view hides all of the host's content there
    with one record, so each entry of the host's that is not there again is deleted, though
    no record names it. Sorted by path."""
    out = []
    for directory in sorted(sb.records.hiding()):
        if not sb.isdir(directory):
            continue  # gone altogether: its own record reports it deleted
        try:
            names = sorted(os.listdir(sb.host_path(directory)))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if sb.lexists(path):
                continue  # made again: its record says how it differs
            try:
                host = os.lstat(sb.host_path(path))
            except OSError:
                continue
            out.append(Node(path, kind(host.st_mode), f"{stat.S_IMODE(host.st_mode):04o}",
                            None, None, None, "deleted"))
    return sorted(out, key=lambda n: n.path)


def _touched_changes(sb: HostView, digests: bool, skip_recorded_in: tuple[str, ...]
                     ) -> Iterator[Node]:
    absent: set[str] = set()  # host paths known not to exist: nothing below them does
    for path, entry in sb.touched(skip_recorded_in):
        host = _host_lstat(sb, path, absent)
        if entry is None:
            if host is not None:
                yield Node(path, kind(host.st_mode), f"{stat.S_IMODE(host.st_mode):04o}",
                           None, None, None, "deleted")
            continue
        if host is None:
            yield _node(sb, entry, "created", digests)
        elif _differs(sb, entry, host):
            yield _node(sb, entry, "modified", digests)


def _host_lstat(sb: HostView, path: str, absent: set[str]) -> os.stat_result | None:
    """lstat on the host; a bundle's new directories hold thousands of new paths, and one
    failed lookup of their parent answers for all of them (the paths come sorted)."""
    if path[:path.rfind("/")] in absent:
        found = None
    else:
        try:
            found = os.lstat(sb.host_path(path))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            found = None  # (one this user may not see: the sandbox's note names it)
    if found is None:
        if len(absent) >= 4096:
            absent.clear()
        absent.add(path)
    return found


def _differs(sb: HostView, entry: Entry, host: os.stat_result) -> bool:
    if entry.type != kind(host.st_mode) or entry.mode != stat.S_IMODE(host.st_mode):
        return True
    if (entry.uid, entry.gid) != (host.st_uid, host.st_gid):
        return True
    if entry.type == "symlink":
        try:
            return entry.target != os.readlink(sb.host_path(entry.path))
        except OSError:
            return True
    if entry.type == "file" and entry.where == "upper":
        try:
            return sb.sha_of(entry) != sb.digest(sb.host_path(entry.path), host)
        except PermissionError:  # a host file this user may not read: say it may differ
            return True
    return False


