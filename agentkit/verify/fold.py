"""Between the host view and the box: what the box shows of the deployment so far (the
HostView's records as items), and what the hooks did there (the box's changes folded back
into the HostView; the deployment root's copied back to verify's own, box.copyback)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from agentkit import agent_files
from agentkit.box import copyback
from agentkit.box.items import DIR, FILE, GONE, OTHER, SYMLINK, Change, Item
from agentkit.hostview.records import Record
from agentkit.hostview.view import Entry, HostView

AGENT_ROOT = agent_files.DEPLOYMENT_ROOT

# --- what the box shows: the HostView's records as items ----------------------------------
def _ancestors(path: str) -> Iterator[str]:
    parts = path.split("/")[1:-1]
    current = ""
    for part in parts:
        current += "/" + part
        yield current


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None


def _item(sb: HostView, rec: Record, entry: Entry | None) -> tuple[Item, int | None] | None:
    if entry is None:
        return (Item(rec.path, GONE), None) if rec.whiteout else None
    mode = entry.mode
    if entry.type == "dir":
        return Item(entry.path, DIR, mode, entry.uid, entry.gid, opaque=bool(rec.hides)), None
    if entry.type == "symlink":
        return Item(entry.path, SYMLINK, 0, entry.uid, entry.gid, target=entry.target), None
    if entry.type != "file":
        return None
    source = entry.src or sb.up(entry.path)
    fd = _open(source)
    if fd is None:
        return None
    st = os.fstat(fd)
    mtime = rec.mtime if rec.mtime is not None else st.st_mtime
    return Item(entry.path, FILE, mode, entry.uid, entry.gid, mtime, size=st.st_size), fd


def items(sb: HostView, records: Iterable[Record], shown: set[str]
          ) -> Iterator[tuple[Item, int | None]]:
    """Items for records (sorted by path), each preceded by the directories above it that the
    box has not been shown yet (`shown`, updated), with the attributes the view gives them."""
    for rec in records:
        for parent in _ancestors(rec.path):
            if parent in shown:
                continue
            shown.add(parent)
            entry = sb.entry(parent)
            if entry is not None and entry.type == "dir":
                yield Item(parent, DIR, entry.mode, entry.uid, entry.gid), None
        made = _item(sb, rec, sb.entry_of(rec))
        if made is not None:
            if made[0].kind == DIR:
                shown.add(rec.path)
            yield made


# --- what the hooks did: changes folded into the HostView ---------------------------------
def _fold_one(sb: HostView, change: Change, fd: int | None) -> bool:
    path = change.path
    owner = (change.uid, change.gid)
    if change.kind == GONE:
        if not sb.lexists(path):
            return False
        sb.remove_tree(path)
        return True
    if change.kind == OTHER:
        return False
    entry = sb.entry(path)
    if change.kind == DIR:
        changed = False
        if change.names is not None:
            keep = set(change.names)
            for name in sb.listdir(path):
                if name not in keep:
                    sb.remove_tree(os.path.join(path, name))
                    changed = True
        if entry is not None and entry.type == "dir" and not sb.islink(path) and \
                (entry.mode, entry.uid, entry.gid) == (change.mode, change.uid, change.gid):
            return changed
        if entry is not None and not (entry.type == "dir" and not sb.islink(path)):
            sb.remove_tree(path)
            entry = None
        if entry is None:
            sb.mkdir(path, change.mode, owner=owner)
        else:
            sb.chmod(path, change.mode)
        sb.chown(path, *owner)
        return True
    if entry is not None and (entry.type == "dir" and not sb.islink(path)):
        sb.remove_tree(path)
    elif entry is not None:
        sb.remove(path)
    if change.kind == SYMLINK:
        sb.symlink(change.target or "", path, owner=owner)
    elif fd is not None:
        sb.write_fd(path, fd, mode=change.mode, mtime=change.mtime, owner=owner)
    else:
        sb.write_placeholder(path, change.size, change.sha256, mode=change.mode,
                             mtime=change.mtime, owner=owner)
    return True


def fold(sb: HostView, changes: Iterable[tuple[Change, int | None]],
         agent_root: str = AGENT_ROOT, dep_root: str = "", notes: list[str] | None = None
         ) -> list[str]:
    """Apply the hooks' changes to the HostView; returns the paths that changed. The agent's
    deployment root is verify's own (`dep_root`), not a change of the host: what the hooks
    did there is copied back to it (box.copyback), a note for what could not be."""
    changed, missed = [], []
    for change, fd in changes:
        if change.path == agent_root or change.path.startswith(agent_root + "/"):
            why = copyback.apply(dep_root, agent_root, change, fd) if dep_root else None
            if why:
                missed.append(why)
            continue
        if _fold_one(sb, change, fd):
            changed.append(change.path)
    sb.save()
    if missed and notes is not None:
        notes.append(f"{len(missed)} change(s) the hooks made in {agent_root} are not in "
                     f"verify's copy of it, e.g. {missed[0]}")
    return changed
