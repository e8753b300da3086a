"""Copies of the host that the box owns, for an unprivileged caller.

In a user namespace without idmapped mounts (only the host's root may make them), a file the
host's root owns shows as nobody, and root of the box may not change it: a hook's
`echo ... >> /etc/hosts` or `mkdir /var/www/app` would fail where the instance's root
succeeds. So before the overlays are mounted, the box copies into a lower layer of its own:
- /etc whole (small: ~1,000 files), as far as the caller may read it;
- the directories (not their files) of the trees hooks write into (/var, /opt, /srv,
  /usr/local, the `files` destinations), up to MAX_DIRS.
The copies keep the host's modes and, where the box has the id, its numeric owners: a file the
host's root owns is root's in the box, as on an instance. What is not copied (a file in /var,
a file the caller may not read) stays the host's; a hook that writes it meets EACCES, and
verify says so instead of predicting a failure (see agentkit.verify.hookbox).

shadow and gshadow are never copied: the box gets ones made from passwd and group with
locked passwords, so `su` works in the box and no password hash of this machine is in it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import shutil
import stat
from collections import deque
from collections.abc import Iterable, Iterator

from agentkit.box.ids import IdMap

MAX_DIRS = 20_000
MAX_DEPTH = 3  # levels of a tree whose directories are copied (/var/www/html, /usr/local/bin)
MAX_FILE = 4 << 20  # a bigger file in /etc is left to the host's layer
LOG_TREE = "/var/log"
GENERATED = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")


def owner(idmap: IdMap, uid: int, gid: int) -> tuple[int, int]:
    """The numeric owner the host shows, if the box has those ids; else root."""
    top = idmap.top
    return (uid if uid <= top else 0), (gid if gid <= top else 0)


# The owners of what copy_tree and empty_logs copy, as this machine has them: read by
# remember_owners before the box's user namespace is entered, because in it an owner the map
# lacks (the host's root, a runas user's home made by root: every id outside the caller's
# subordinate range) shows as 65534, and a copy owned by that would be nobody's, not root's
# or the runas user's as on the instance.
_HOST: dict[str, tuple[int, int]] = {}


def remember_owners(trees: Iterable[str], files: Iterable[str] = ("/etc", LOG_TREE),
                    budget: int = MAX_DIRS, skip: frozenset[str] = frozenset(),
                    depth: int = MAX_DEPTH) -> None:
    """Record the host owners of `trees`' directories (MAX_DEPTH levels, as copy_tree) and
    of the files directly below `files`' directories, for the copies made later."""
    with_files = frozenset(files)
    queue = deque((t, 0, _inside_any(t, with_files)) for t in trees)
    while queue and budget > 0:
        path, level, take_files = queue.popleft()
        if path in skip:
            continue
        try:
            st = os.lstat(path)
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        budget -= 1
        _HOST[path] = (st.st_uid, st.st_gid)
        for parent in _ancestors(path):  # a home's, made by copy_tree too
            if parent in _HOST:
                break
            with contextlib.suppress(OSError):
                pst = os.lstat(parent)
                _HOST[parent] = (pst.st_uid, pst.st_gid)
        for entry in entries:
            deep = take_files or entry.path in with_files
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    if deep or level + 1 < depth:
                        queue.append((entry.path, level + 1, deep))
                elif take_files:
                    cst = entry.stat(follow_symlinks=False)
                    _HOST[entry.path] = (cst.st_uid, cst.st_gid)


def _inside_any(path: str, dirs: frozenset[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in dirs)


def _ancestors(path: str) -> Iterator[str]:
    parent = os.path.dirname(path)
    while parent not in ("/", ""):
        yield parent
        parent = os.path.dirname(parent)


def _attrs(path: str, st: os.stat_result, idmap: IdMap, src: str = "") -> None:
    uid, gid = _HOST.get(src, (st.st_uid, st.st_gid))
    with contextlib.suppress(OSError):
        os.lchown(path, *owner(idmap, uid, gid))
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))


def copy_tree(src: str, dest_layer: str, idmap: IdMap, files: bool, budget: list[int],
              depth: int = MAX_DEPTH, skip: frozenset[str] = frozenset()) -> None:
    """Copy `src` (and, with `files`, its files and links) into dest_layer + src, breadth
    first down to `depth` levels, without following links or leaving src's file system,
    nor entering the directories `skip` names (the box shows them empty: not even their
    subdirectories' names). `budget`: directories left to copy. Modes are set last: a copy
    of a 0555 directory still takes what goes in it."""
    try:
        top = os.lstat(src)
    except OSError:
        return
    if not stat.S_ISDIR(top.st_mode):
        return
    parents = _missing_parents(src, dest_layer)
    queue = deque([(src, 0)])
    made: list[tuple[str, os.stat_result]] = []
    while queue and budget[0] > 0:
        path, level = queue.popleft()
        target = dest_layer + path
        try:
            st = os.lstat(path)
            names = sorted(os.listdir(path))
        except OSError:
            continue  # a directory the caller may not read stays the host's
        os.makedirs(target, 0o755, exist_ok=True)
        made.append((target, st))
        budget[0] -= 1
        for name in names:
            child = f"{path}/{name}"
            try:
                cst = os.lstat(child)
            except OSError:
                continue
            if stat.S_ISDIR(cst.st_mode):
                if child in skip:
                    continue
                if cst.st_dev == top.st_dev and (files or level + 1 < depth):
                    queue.append((child, level + 1))
            elif files:
                _copy_file(child, dest_layer + child, cst, idmap)
    for target, st in reversed(made):
        _attrs(target, st, idmap, target[len(dest_layer):])
    for parent in parents:  # made above by makedirs: the host's mode and owner, not 0755
        with contextlib.suppress(OSError):
            _attrs(dest_layer + parent, os.lstat(parent), idmap, parent)


def _missing_parents(src: str, dest_layer: str) -> list[str]:
    """The directories above `src` that dest_layer has no copy of yet (a home at
    /app/home/u, below no tree of MIMIC_TREES)."""
    found = []
    for parent in _ancestors(src):
        if os.path.lexists(dest_layer + parent):
            break
        found.append(parent)
    return found


def _copy_file(src: str, dest: str, st: os.stat_result, idmap: IdMap) -> None:
    if src in GENERATED:
        return
    try:
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dest)
        elif stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE:
            shutil.copyfile(src, dest, follow_symlinks=False)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            return  # devices, sockets, fifos and big files stay the host's
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(dest)
        return  # e.g. a file the caller may not read
    _attrs(dest, st, idmap, src)



def empty_logs(dest_layer: str, idmap: IdMap, budget: int = MAX_DIRS) -> int:
    """Each log file of /var/log (three levels down) as an empty file of the box's own, with
    the host's mode and owner: a daemon the hooks start opens its log for appending (nginx
    -t opens /var/log/nginx/error.log), which the instance's root may and the box's could
    not in the host's file. Never their content: old log lines are nothing a hook needs,
    and they may be big or secret. Returns how many were made."""
    made = 0
    stack = [(LOG_TREE, 0)]
    while stack and made < budget:
        path, level = stack.pop()
        try:
            names = sorted(os.listdir(path))
        except OSError:
            continue
        for name in names:
            child = f"{path}/{name}"
            try:
                st = os.lstat(child)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and level < MAX_DEPTH:
                stack.append((child, level + 1))
            elif stat.S_ISREG(st.st_mode) and os.path.isdir(os.path.dirname(dest_layer + child)):
                with contextlib.suppress(OSError):
                    os.close(os.open(dest_layer + child, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                     0o600))
                    _attrs(dest_layer + child, st, idmap, child)
                    made += 1
    return made


def locked_accounts(layer: str, idmap: IdMap, etc: str = "/etc", image: bool = False
                    ) -> None:
    """shadow and gshadow for every account of passwd and group (those of `etc`, the lower
    /etc as the box sees it), with locked passwords."""
    for src, dest, line, mode in (("/etc/passwd", "/etc/shadow", "{}:*:19000:0:99999:7:::\n",
                                   0o640),
                                  ("/etc/group", "/etc/gshadow", "{}:*::\n", 0o640)):
        try:
            lower = etc + src[len("/etc"):]
            with open(layer + src if os.path.exists(layer + src) else lower) as f:
                names = [e.split(":", 1)[0] for e in f.read().splitlines() if ":" in e]
        except OSError:
            continue
        path = layer + dest
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        with open(path, "w") as f:
            f.write("".join(line.format(n) for n in names if n))
        os.chmod(path, mode)
        shadow_gid = _group_id("shadow", etc if image else "")
        with contextlib.suppress(OSError):
            os.chown(path, 0, shadow_gid if shadow_gid is not None and
                     shadow_gid <= idmap.top else 0)


def _group_id(name: str, etc: str = "") -> int | None:
    if etc:  # the image's own group file, not this machine's
        try:
            with open(f"{etc}/group") as f:
                for line in f:
                    fields = line.split(":")
                    if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                        return int(fields[2])
        except OSError:
            pass
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
