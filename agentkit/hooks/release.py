"""`agentkit hook release`: Capistrano's layout on top of CodeDeploy's in-place install.

The appspec's `files` go to `releases.staging`. In AfterInstall the staged tree becomes
`root/releases/<id>` (a rename on one file system: instant, and a half-copied release is
never what `current` points at), shared paths are linked into it (link_shared.py), the
permission rules for the staging path are applied to it, and a REVISION file records the
deployment. At the configured event `current` is swapped to it with one rename(2) of a new
link over the old one, never rm then ln, and the oldest releases beyond `keep` are pruned,
never the current or the previous one.

Crash safety: a release is built under `<id>.agentkit-partial` and renamed complete; a
prune renames a release to `<id>.agentkit-pruning` before removing it. So at any SIGKILL,
`current` points to a complete release, and the next run resumes or discards what the
killed one left. One lock (flock, released by the kernel when its holder dies) keeps two
deployments, or a deployment and a rollback, from interleaving.
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
from typing import Any, NamedTuple

from agentkit import digests, fstree
from agentkit.errors import HookFailed
from agentkit.hooks import link_shared, permissions
from agentkit.hooks.config import Config, PermissionRule, Releases

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


def current_id(r: Releases) -> str | None:
    """The release `current` points at, when it is a link into releases/."""
    with contextlib.suppress(OSError):
        target = os.readlink(current_link(r))
        if os.path.dirname(target.rstrip("/")) in ("releases", releases_dir(r)):
            return os.path.basename(target.rstrip("/"))
    return None


def release_id() -> str:
    """The deployment id (d-XXXXXXXXX) when run by the agent, else a UTC timestamp."""
    return os.environ.get("DEPLOYMENT_ID") or time.strftime("%Y%m%d%H%M%S", time.gmtime())


def _complete(r: Releases) -> list[str]:
    """The complete releases' ids, oldest first (by REVISION's creation, then name)."""
    return list(_revisions(r))


def _revisions(r: Releases) -> dict[str, dict[str, Any]]:
    """Each complete release's REVISION, each file read once, oldest release first."""
    try:
        names = os.listdir(releases_dir(r))
    except FileNotFoundError:
        return {}
    found = {n: _revision(r, n) for n in names if ".agentkit-" not in n and
             os.path.isdir(os.path.join(releases_dir(r), n)) and
             not os.path.islink(os.path.join(releases_dir(r), n))}
    return dict(sorted(found.items(), key=lambda kv: (str(kv[1].get("created", "")), kv[0])))


def _revision(r: Releases, rid: str) -> dict[str, Any]:
    try:
        with open(os.path.join(releases_dir(r), rid, REVISION), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# --- history: which release was current when (for "previous" and rollback) -----------------
def history(r: Releases) -> list[dict[str, str]]:
    try:
        with open(os.path.join(r.root, HISTORY), encoding="utf-8") as f:
            data = json.load(f)
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    except (OSError, ValueError):
        return []


def _write_json(path: str, data: Any) -> None:
    """Whole or not at all: a temporary file, fsync, rename."""
    tmp = f"{path}.agentkit-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def previous_id(r: Releases) -> str | None:
    """The release that was current before the current one, if it still exists."""
    now = current_id(r)
    present = set(_complete(r))
    for entry in reversed(history(r)):
        rid = entry.get("release")
        if rid and rid != now and rid in present:
            return rid
    return None


def listing(r: Releases) -> list[Release]:
    now, before = current_id(r), previous_id(r)
    activated = {e.get("release") for e in history(r)}
    out = []
    for rid, revision in _revisions(r).items():
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
    os.makedirs(r.root, exist_ok=True)
    path = os.path.join(r.root, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
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
    <root>/<group>/<deployment>/bundle.tar next to deployment-archive/."""
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


def _take_staging(r: Releases, partial: str, log: Any) -> None:
    """Move the staged tree to `partial` in one rename, leaving an empty staging dir with the
    same mode for the agent's next Install. Where the kernel refuses to rename it (EXDEV:
    staging on another file system, or in an overlayfs lower layer as in verify's box or a
    container) it is copied whole instead, and staging is emptied only once the release is
    complete (prepare)."""
    try:
        st = os.lstat(r.staging)
    except FileNotFoundError:
        raise HookFailed(f"releases.staging {r.staging} does not exist: point the appspec's "
                         "`files` destination at it (agentkit appspec generate does), so "
                         "Install stages the release there.") from None
    if not stat.S_ISDIR(st.st_mode):  # a link would make the release a link out of releases/
        raise HookFailed(f"releases.staging {r.staging} is not a directory (a link?): the "
                         "release is built from it in place; make it a plain directory.")
    try:
        os.rename(r.staging, partial)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EBUSY):  # EBUSY: staging is a mount point
            raise
        log.info("staging cannot be renamed into releases/ (EXDEV); copying it", staging=r.staging)
        fstree.copy_tree(r.staging, partial)
        return
    os.mkdir(r.staging, 0o700)
    os.chmod(r.staging, st.st_mode & 0o7777)
    log.info("staged tree taken", staging=r.staging, release=partial)


def _empty(directory: str) -> None:
    """What a copied staging dir still holds, once its release is complete."""
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                fstree.remove_tree(path)
            else:
                os.unlink(path)


def _remap(rules: tuple[PermissionRule, ...], staging: str,
           into: str) -> tuple[PermissionRule, ...]:
    """The permission rules written for the staging path, for the release built from it."""
    out = []
    for rule in rules:
        if rule.path == staging or rule.path.startswith(staging + "/"):
            out.append(dataclasses.replace(rule, path=into + rule.path[len(staging):]))
    return tuple(out)


def _fill(cfg: Config, r: Releases, rid: str, partial: str, log: Any) -> None:
    """What a release gets before it is complete: shared links, permissions, REVISION."""
    if cfg.shared is not None:
        link_shared.run(dataclasses.replace(cfg, release=partial), log)
    rules = _remap(cfg.permissions, r.staging, partial)
    if rules:
        permissions.run(dataclasses.replace(cfg, permissions=rules), log)
    _write_json(os.path.join(partial, REVISION), {
        "release": rid, "deployment_id": os.environ.get("DEPLOYMENT_ID"),
        "deployment_group_id": os.environ.get("DEPLOYMENT_GROUP_ID"),
        "bundle_sha256": _bundle_sha256(cfg.path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def prepare(cfg: Config, log: Any, rid: str | None = None) -> str:
    """releases/<id>, complete; idempotent (a rerun of the same deployment returns it, and
    resumes a release a killed run left partial)."""
    r = _releases(cfg)
    rid = rid or release_id()
    final = os.path.join(releases_dir(r), rid)
    if os.path.isdir(final) and not os.path.islink(final):
        log.info("release already prepared", release=final)
        _empty(r.staging)  # a copy's leftovers, if a killed run copied it
        return final
    partial = final + PARTIAL
    os.makedirs(releases_dir(r), exist_ok=True)
    staged = os.path.isdir(r.staging) and bool(os.listdir(r.staging))
    if os.path.lexists(partial) and (staged or os.path.islink(partial)):
        fstree.remove_tree(partial)  # a killed run's; this Install staged anew
    if not os.path.lexists(partial):
        _take_staging(r, partial, log)
    else:
        log.info("resuming a release a killed run left", release=partial)
    _fill(cfg, r, rid, partial, log)
    os.rename(partial, final)
    _empty(r.staging)
    log.info("release prepared", release=final)
    return final


def _releases(cfg: Config) -> Releases:
    if cfg.releases is None:
        raise HookFailed(f"{cfg.path}: `release` needs a `releases` section (root, staging).")
    return cfg.releases


# --- current, and pruning ------------------------------------------------------------------
def swap(r: Releases, rid: str, log: Any, by: str = "deploy") -> None:
    """Point `current` at releases/<rid> with one rename of a new link over the old one. A
    real directory at `current` (the layout before agentkit) is exchanged for the link in
    one step and kept as releases/<time>-before-agentkit."""
    before = current_id(r)
    link, tmp = current_link(r), os.path.join(r.root, ".current.agentkit-tmp")
    if os.path.islink(tmp):
        os.unlink(tmp)
    elif os.path.isdir(tmp):  # a killed run had exchanged the old directory to it: keep it
        os.rename(tmp, os.path.join(releases_dir(r), time.strftime(
            "%Y%m%d%H%M%S-before-agentkit")))
    os.symlink(os.path.join("releases", rid), tmp)
    if os.path.isdir(link) and not os.path.islink(link):
        kept = os.path.join(releases_dir(r), time.strftime("%Y%m%d%H%M%S-before-agentkit"))
        if not link_shared.exchange(tmp, link):
            os.unlink(tmp)
            raise HookFailed(f"{link} is a directory and this kernel cannot exchange it for "
                             f"a link in one step; move it to {kept} and run again.")
        os.rename(tmp, kept)
        before = os.path.basename(kept)
        log.warning("current was a directory; kept it as a release", kept=kept)
    else:
        os.rename(tmp, link)
    past = history(r)[-98:]
    if before is not None and (not past or past[-1].get("release") != before):
        past.append({"release": before, "at": "", "by": "found current"})  # not ours to date
    _write_json(os.path.join(r.root, HISTORY), [*past, {
        "release": rid, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "by": by}])
    log.info("current swapped", current=link, release=rid, by=by)


def prune(r: Releases, log: Any, rid: str | None = None) -> list[str]:
    """Remove the oldest releases beyond `keep`, never the current or the previous one, and
    what killed runs left (partial builds of other deployments, half-pruned releases)."""
    rid = rid or release_id()
    keep = {current_id(r), previous_id(r), rid}
    ids = _complete(r)
    extra = len(ids) - r.keep
    doomed = [rid for rid in ids if rid not in keep][:max(extra, 0)]
    for rid in doomed:
        path = os.path.join(releases_dir(r), rid)
        os.rename(path, path + PRUNING)  # out of every listing in one step
    for name in sorted(os.listdir(releases_dir(r))):
        path = os.path.join(releases_dir(r), name)
        if name.endswith(PRUNING) or (name.endswith(PARTIAL) and
                                      name[:-len(PARTIAL)] != rid):
            fstree.remove_tree(path)  # never follows a link (into shared storage)
    if doomed:
        log.info("pruned releases", removed=doomed, keep=r.keep)
    return doomed


# --- the hook action -----------------------------------------------------------------------
def run(cfg: Config, log: Any, dry_run: bool = False) -> None:
    """AfterInstall prepares (and swaps, with swap: AfterInstall); the swap event swaps to
    this deployment's release; run by hand (no LIFECYCLE_EVENT) it does both."""
    r = _releases(cfg)
    event = os.environ.get("LIFECYCLE_EVENT", "")
    if event not in ("", "AfterInstall", r.swap):
        raise HookFailed(f"`release` runs in AfterInstall (and {r.swap}, releases.swap), "
                         f"not in {event}: move it in agentkit.yml's events.")
    if dry_run:
        log.info("release", event=event or "(by hand)", root=r.root, dry_run=True)
        return
    rid = release_id()  # once: by hand it is the time, which must not move on mid-run
    with locked(r, log):
        if event in ("", "AfterInstall"):
            prepare(cfg, log, rid)
        if event in ("", r.swap):
            if not os.path.isdir(os.path.join(releases_dir(r), rid)):
                raise HookFailed(f"no release {rid} in {releases_dir(r)} to make current: "
                                 "`release` must run in AfterInstall first.")
            if current_id(r) != rid:
                swap(r, rid, log)
            prune(r, log, rid)
