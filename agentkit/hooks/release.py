"""`agentkit hook release`: Capistrano's layout on top of CodeDeploy's in-place install.

The appspec's `files` go to `releases.staging`. In AfterInstall the staged tree becomes
`root/releases/<id>` (a rename on one file system: instant, and a half-copied release is
never what `current` points at), shared paths are linked into it (link_shared.py), the
permission rules for the staging path are applied to it, and a REVISION file records the
deployment. At the configured event `current` is swapped to it with one rename(2) of a new
link over the old one, never rm then ln, and the oldest releases beyond `keep` are pruned,
never the current or the previous one.

Every file system call goes through safefs, relative to descriptors of `root` and
`root/releases` opened once: a link planted in a release (which permissions may have given
to the application's user) is replaced or refused, never written through, and pruning walks
a stack of directory descriptors, never climbing back with `..`.

Crash safety: a release is built under `<id>.agentkit-partial` and renamed complete; a
prune renames a release to `<id>.agentkit-pruning` before removing it. So at any SIGKILL,
`current` points to a complete release, and the next run resumes or discards what the
killed one left. One lock (flock, released by the kernel when its holder dies) keeps two
deployments, or a deployment and a rollback, from interleaving.

Over 500 lines: one action (stage, link, swap, prune, history) whose steps share the
release's open directories and lock; each step is a short function.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from typing import Any, NamedTuple, NoReturn

from agentkit import digests, environ
from agentkit.errors import HookFailed
from agentkit.hooks import link_shared, permissions, refusal
from agentkit.hooks.config import Config, PermissionRule, Releases
from agentkit.safefs import chase, walk
from agentkit.safefs.dirfd import Dir, Tampered

LOCK = ".agentkit-release.lock"
HISTORY = ".agentkit-history.json"
REVISION = "REVISION"
PARTIAL = ".agentkit-partial"
PRUNING = ".agentkit-pruning"
LOCK_WAIT = 60.0


class Release(NamedTuple):
    id: str
    path: str
    revision: dict[str, Any]  # REVISION's content ({} when unreadable)
    state: str  # current, previous, prepared (never current yet), old


# --- where things are ---------------------------------------------------------------------
def releases_dir(r: Releases) -> str:
    return os.path.join(r.root, "releases")


def current_link(r: Releases) -> str:
    return os.path.join(r.root, "current")


def _mkdir(parent: Dir, name: str) -> None:
    with contextlib.suppress(FileExistsError):
        parent.mkdir(name, 0o755)


@contextlib.contextmanager
def _opened(r: Releases, make: bool = False) -> Iterator[tuple[Dir, Dir | None]]:
    """root and root/releases (None while there is none), as descriptors (safefs.chase);
    `make`: create what is missing."""
    try:
        root = chase.open_dir(r.root, _mkdir if make else None)
    except Tampered as exc:
        raise refusal.failed(f"releases.root {r.root}", exc) from None
    st = root.stat()
    if not chase.trusted(st):
        root.close()
        # releases/, current, the history and the lock live there: another user who may
        # write it could swap any of them, or hold the lock with a file of its own
        raise HookFailed(
            f"releases.root {r.root} may be written by others (uid {st.st_uid}, mode "
            f"{stat.S_IMODE(st.st_mode):04o}): the releases, `current`, their history and "
            "the release lock live there, so only root (or the user the hook runs as) may "
            "write it. Make it root's and not writable by group or others (chown root: and "
            "chmod go-w); give the application user the directories inside a release it "
            "needs (permissions:).")
    try:
        if make:
            _mkdir(root, "releases")
        try:
            rels: Dir | None = root.subdir("releases")
        except FileNotFoundError:
            rels = None
        except Tampered as exc:
            raise refusal.failed(f"releases.root {r.root}", exc) from None
        try:
            yield root, rels
        finally:
            if rels is not None:
                rels.close()
    finally:
        root.close()


def _current_in(root: Dir) -> str | None:
    target = root.readlink("current")
    if target is not None and os.path.dirname(target.rstrip("/")) in (
            "releases", os.path.join(root.path, "releases")):
        return os.path.basename(target.rstrip("/"))
    return None


def current_id(r: Releases) -> str | None:
    """The release `current` points at, when it is a link into releases/."""
    try:
        with _opened(r) as (root, _):
            return _current_in(root)
    except (FileNotFoundError, HookFailed):
        return None


def release_id() -> str:
    """The deployment id (d-XXXXXXXXX) when run by the agent, else a UTC timestamp."""
    return environ.get("DEPLOYMENT_ID") or time.strftime("%Y%m%d%H%M%S", time.gmtime())


def _revisions_in(rels: Dir | None) -> dict[str, dict[str, Any]]:
    """Each complete release's REVISION, each file read once, oldest release first."""
    if rels is None:
        return {}
    found = {name: _revision(rels, name, st) for name, st in rels.entries()
             if ".agentkit-" not in name and stat.S_ISDIR(st.st_mode)}
    return dict(sorted(found.items(), key=lambda kv: (str(kv[1].get("created", "")), kv[0])))


REVISION_KEYS = ("release", "deployment_id", "deployment_group_id", "bundle_sha256", "created")


def _revision(rels: Dir, rid: str, st: os.stat_result) -> dict[str, Any]:
    """REVISION's known keys with text values: the file lies in a release the application
    user may own, so anything else in it is dropped (a nesting deep enough to exhaust the
    parser, values of other types, control characters that would reach a terminal)."""
    try:
        with rels.subdir(rid, st) as release:
            data = json.loads(release.read(REVISION, 1 << 20))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: _printable(data[k]) for k in REVISION_KEYS if isinstance(data.get(k), str)}


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:200])


def _complete(r: Releases) -> list[str]:
    """The complete releases' ids, oldest first (by REVISION's creation, then name)."""
    with _opened(r) as (_, rels):
        return list(_revisions_in(rels))


# --- history: which release was current when (for "previous" and rollback) -----------------
def _history_in(root: Dir) -> list[dict[str, str]]:
    """The history's entries of text values (the file is agentkit's, but a root the
    application user may write could have anything in it)."""
    try:
        data = json.loads(root.read(HISTORY, 1 << 22))
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(data, list):
        return []
    return [{k: _printable(v) for k, v in e.items() if isinstance(v, str)}
            for e in data if isinstance(e, dict) and isinstance(e.get("release"), str)]


def history(r: Releases) -> list[dict[str, str]]:
    try:
        with _opened(r) as (root, _):
            return _history_in(root)
    except (FileNotFoundError, HookFailed):
        return []


def _write_json(d: Dir, name: str, data: Any) -> None:
    """Whole or not at all: a new file under an unguessable name, fsync, rename."""
    d.remove_temporaries(name)
    d.write_atomic(name, (json.dumps(data, indent=1) + "\n").encode(), 0o644)


def _previous_in(root: Dir, rels: Dir | None) -> str | None:
    now = _current_in(root)
    present = set(_revisions_in(rels))
    for entry in reversed(_history_in(root)):
        rid = entry.get("release")
        if rid and rid != now and rid in present:
            return rid
    return None


def previous_id(r: Releases) -> str | None:
    """The release that was current before the current one, if it still exists."""
    try:
        with _opened(r) as (root, rels):
            return _previous_in(root, rels)
    except (FileNotFoundError, HookFailed):
        return None


def listing(r: Releases) -> list[Release]:
    try:
        with _opened(r) as (root, rels):
            now, before = _current_in(root), _previous_in(root, rels)
            activated = {e.get("release") for e in _history_in(root)}
            revisions = _revisions_in(rels)
    except FileNotFoundError:
        return []
    out = []
    for rid, revision in revisions.items():
        state = "current" if rid == now else "previous" if rid == before else \
            "old" if rid in activated else "prepared"
        out.append(Release(rid, os.path.join(releases_dir(r), rid), revision, state))
    return out


# --- the lock ------------------------------------------------------------------------------
def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(r: Releases, log: Any, wait: float = LOCK_WAIT) -> Iterator[None]:
    """flock on root/.agentkit-release.lock. The kernel frees it when its holder dies, so a
    lock file left by a killed run is taken at once (and said to be stale)."""
    path = os.path.join(r.root, LOCK)
    with _opened(r, make=True) as (root, _):
        try:
            fd = root.open_file(LOCK, os.O_RDWR | os.O_CREAT, mode=0o600)
        except Tampered as exc:
            raise refusal.failed("the release lock", exc) from None
        # root's only: another user who may open it could hold it (flock) and stop every
        # deployment and rollback
        os.fchmod(fd, 0o600)
    try:
        end = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    raise HookFailed(_busy(path, fd, wait)) from None
                time.sleep(0.05)
        _note_stale(fd, log)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still held: the next run finds no holder, not a stale one
    finally:
        os.close(fd)


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):  # empty: nobody wrote it
        return int(os.pread(fd, 32, 0).split()[0])
    return None


def _busy(path: str, fd: int, wait: float) -> str:
    holder = _holder(fd)
    who = f"process {holder}" if holder else "another process"
    return (f"{path} is held by {who} (another deployment or a rollback) after waiting "
            f"{wait:g} s; let it finish, or stop it: the lock ends with its holder.")


def _note_stale(fd: int, log: Any) -> None:
    holder = _holder(fd)
    if holder and holder != os.getpid() and not _running(holder):
        log.warning("took over a stale release lock", pid=holder)


# --- building a release --------------------------------------------------------------------
def _bundle_sha256(config_path: str) -> str | None:
    """The agent keeps the bundle beside the unpacked archive agentkit.yml came in:
    <root>/<group>/<deployment>/bundle.tar next to deployment-archive/ (root's own tree)."""
    directory = os.path.dirname(os.path.abspath(config_path))
    while directory != "/":
        if os.path.basename(directory) == "deployment-archive":
            try:
                return digests.file_sha256(os.path.join(os.path.dirname(directory),
                                                        "bundle.tar"))
            except OSError:
                return None
        directory = os.path.dirname(directory)
    return None


def _staging(r: Releases) -> tuple[Dir, str, os.stat_result | None]:
    """The directory holding releases.staging, its name, and its lstat (None: missing)."""
    try:
        parent, name = chase.locate(r.staging)
    except FileNotFoundError:
        return _missing_staging(r)
    except Tampered as exc:
        raise refusal.failed(f"releases.staging {r.staging}", exc) from None
    return parent, name, parent.lstat(name)


def _missing_staging(r: Releases) -> NoReturn:
    raise HookFailed(f"releases.staging {r.staging} does not exist: point the appspec's "
                     "`files` destination at it (agentkit appspec generate does), so "
                     "Install stages the release there.")


def _take_staging(r: Releases, rels: Dir, partial: str, log: Any) -> None:
    """Move the staged tree to `partial` in one rename, leaving an empty staging dir with the
    same owner and mode for the agent's next Install. Where the kernel refuses to rename it
    (EXDEV: staging on another file system, or in an overlayfs lower layer as in verify's
    box or a container) it is copied whole instead, and staging is emptied only once the
    release is complete (prepare)."""
    parent, name, st = _staging(r)
    with parent:
        if st is None:
            _missing_staging(r)
        if not stat.S_ISDIR(st.st_mode):  # a link would make the release a link elsewhere
            raise HookFailed(f"releases.staging {r.staging} is not a directory (a link?): the "
                             "release is built from it in place; make it a plain directory.")
        try:
            parent.rename(name, rels, partial)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EBUSY):  # EBUSY: staging is a mount point
                raise
            log.info("staging cannot be renamed into releases/ (EXDEV); copying it",
                     staging=r.staging)
            with parent.subdir(name, st) as staged:
                walk.copy_tree(staged, rels, partial)
            return
        parent.mkdir(name, 0o700)
        with walk.made(parent, name) as fresh:
            fresh.set_owner_mode(st.st_uid if os.geteuid() == 0 else -1,
                                 st.st_gid if os.geteuid() == 0 else -1, st.st_mode & 0o7777)
    log.info("staged tree taken", staging=r.staging, release=os.path.join(rels.path, partial))


def _empty_staging(r: Releases) -> None:
    """What a copied staging dir still holds, once its release is complete."""
    try:
        parent, name, st = _staging(r)
    except HookFailed:
        return
    with parent:
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        with parent.subdir(name, st) as staged:
            for entry, _ in staged.entries():
                walk.remove_tree(staged, entry)


def _staged(r: Releases) -> bool:
    """Install put something in staging (so a partial release left by a killed run is
    stale: this deployment staged anew)."""
    try:
        parent, name, st = _staging(r)
    except HookFailed:
        return False
    with parent:
        if st is None or not stat.S_ISDIR(st.st_mode):
            return False
        with parent.subdir(name, st) as staged:
            return bool(staged.entries())


def _remap(rules: tuple[PermissionRule, ...], staging: str,
           into: str) -> tuple[PermissionRule, ...]:
    """The permission rules written for the staging path, for the release built from it."""
    out = []
    for rule in rules:
        if rule.path == staging or rule.path.startswith(staging + "/"):
            out.append(dataclasses.replace(rule, path=into + rule.path[len(staging):]))
    return tuple(out)


def _fill(cfg: Config, r: Releases, rid: str, rels: Dir, partial: str, log: Any) -> None:
    """What a release gets before it is complete: shared links, permissions, REVISION."""
    where = os.path.join(rels.path, partial)
    if cfg.shared is not None:
        link_shared.run(dataclasses.replace(cfg, release=where), log)
    rules = _remap(cfg.permissions, r.staging, where)
    if rules:
        permissions.run(dataclasses.replace(cfg, permissions=rules), log)
    try:
        with rels.subdir(partial) as release:
            _write_json(release, REVISION, {
                "release": rid, "deployment_id": environ.get("DEPLOYMENT_ID") or None,
                "deployment_group_id": environ.get("DEPLOYMENT_GROUP_ID") or None,
                "bundle_sha256": _bundle_sha256(cfg.path),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    except Tampered as exc:
        raise refusal.failed(f"the release's {REVISION}", exc) from None


def prepare(cfg: Config, log: Any, rid: str | None = None) -> str:
    """releases/<id>, complete; idempotent (a rerun of the same deployment returns it, and
    resumes a release a killed run left partial)."""
    r = _releases(cfg)
    rid = rid or release_id()
    partial = rid + PARTIAL
    with _opened(r, make=True) as (_, rels):
        assert rels is not None
        final = os.path.join(rels.path, rid)
        st = rels.lstat(rid)
        if st is not None and stat.S_ISDIR(st.st_mode):
            log.info("release already prepared", release=final)
            _empty_staging(r)  # a copy's leftovers, if a killed run copied it
            return final
        left = rels.lstat(partial)
        if left is not None and (_staged(r) or not stat.S_ISDIR(left.st_mode)):
            _removed(walk.remove_tree(rels, partial), log)  # a killed run's; staged anew
            left = None
        if left is None:
            _take_staging(r, rels, partial, log)
        else:
            log.info("resuming a release a killed run left", release=final + PARTIAL)
        _fill(cfg, r, rid, rels, partial, log)
        rels.rename(partial, rels, rid)
        rels.fsync()
    _empty_staging(r)
    log.info("release prepared", release=final)
    return final


def _removed(left: walk.Left, log: Any) -> None:
    for path, why in left.items[:20]:
        log.warning("left in place while removing", path=path, reason=why)


def _releases(cfg: Config) -> Releases:
    if cfg.releases is None:
        raise HookFailed(f"{cfg.path}: `release` needs a `releases` section (root, staging).")
    return cfg.releases


# --- current, and pruning ------------------------------------------------------------------
def _kept_name() -> str:
    return time.strftime("%Y%m%d%H%M%S-before-agentkit")


def swap(r: Releases, rid: str, log: Any, by: str = "deploy") -> None:
    """Point `current` at releases/<rid> with one rename of a new link over the old one. A
    real directory at `current` (the layout before agentkit) is exchanged for the link in
    one step and kept as releases/<time>-before-agentkit."""
    tmp = ".current.agentkit-tmp"
    with _opened(r, make=True) as (root, rels):
        assert rels is not None
        before = _current_in(root)
        was = root.lstat(tmp)
        if was is not None and stat.S_ISDIR(was.st_mode):
            # a killed run had exchanged the old directory to it: keep it
            root.rename(tmp, rels, _kept_name())
        elif was is not None:
            root.unlink(tmp)
        root.symlink(os.path.join("releases", rid), tmp)
        cur = root.lstat("current")
        if cur is not None and stat.S_ISDIR(cur.st_mode):
            kept = _kept_name()
            if not root.exchange(tmp, root, "current"):
                root.unlink(tmp)
                raise HookFailed(f"{current_link(r)} is a directory and this kernel cannot "
                                 "exchange it for a link in one step; move it to "
                                 f"{os.path.join(rels.path, kept)} and run again.")
            root.rename(tmp, rels, kept)
            before = kept
            log.warning("current was a directory; kept it as a release",
                        kept=os.path.join(rels.path, kept))
        else:
            root.rename(tmp, root, "current")
        root.fsync()
        past = _history_in(root)[-98:]
        if before is not None and (not past or past[-1].get("release") != before):
            past.append({"release": before, "at": "", "by": "found current"})  # not ours to date
        _write_json(root, HISTORY, [*past, {
            "release": rid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "by": by}])
    log.info("current swapped", current=current_link(r), release=rid, by=by)


def prune(r: Releases, log: Any, rid: str | None = None) -> list[str]:
    """Remove the oldest releases beyond `keep`, never the current or the previous one, and
    what killed runs left (partial builds of other deployments, half-pruned releases)."""
    rid = rid or release_id()
    with _opened(r) as (root, rels):
        if rels is None:
            return []
        keep = {_current_in(root), _previous_in(root, rels), rid}
        ids = list(_revisions_in(rels))
        extra = len(ids) - r.keep
        doomed = [old for old in ids if old not in keep][:max(extra, 0)]
        for old in doomed:
            rels.rename(old, rels, old + PRUNING)  # out of every listing in one step
        for name, _ in sorted(rels.entries()):
            if name.endswith(PRUNING) or (name.endswith(PARTIAL) and
                                          name[:-len(PARTIAL)] != rid):
                _removed(walk.remove_tree(rels, name), log)  # descriptors, never `..`
    if doomed:
        log.info("pruned releases", removed=doomed, keep=r.keep)
    return doomed


# --- the hook action -----------------------------------------------------------------------
def run(cfg: Config, log: Any, dry_run: bool = False) -> None:
    """AfterInstall prepares (and swaps, with swap: AfterInstall); the swap event swaps to
    this deployment's release; run by hand (no LIFECYCLE_EVENT) it does both."""
    r = _releases(cfg)
    event = environ.get("LIFECYCLE_EVENT")
    if event not in ("", "AfterInstall", r.swap):
        raise HookFailed(f"`release` runs in AfterInstall (and {r.swap}, releases.swap), "
                         f"not in {event}: move it in agentkit.yml's events.")
    rid = release_id()  # once: by hand it is the time, which must not move on mid-run
    if dry_run:
        _dry_run(r, rid, event, log)
        return
    with locked(r, log):
        if event in ("", "AfterInstall"):
            prepare(cfg, log, rid)
        if event in ("", r.swap):
            with _opened(r) as (root, rels):
                st = rels.lstat(rid) if rels is not None else None
                ready = st is not None and stat.S_ISDIR(st.st_mode)
                now = _current_in(root)
            if not ready:
                raise HookFailed(f"no release {rid} in {releases_dir(r)} to make current: "
                                 "`release` must run in AfterInstall first.")
            if now != rid:
                swap(r, rid, log)
            prune(r, log, rid)


def _dry_run(r: Releases, rid: str, event: str, log: Any) -> None:
    """What the run would do, changing nothing."""
    steps = []
    if event in ("", "AfterInstall"):
        steps.append(f"build {os.path.join(releases_dir(r), rid)} from {r.staging}")
    if event in ("", r.swap):
        steps.append(f"point {current_link(r)} at releases/{rid}")
        steps.append(f"prune beyond keep={r.keep}")
    log.info("release", lifecycle_event=event or "(by hand)", root=r.root, release=rid,
             would="; ".join(steps), dry_run=True)

