"""Install's writes, and the previous revision's cleanup deletes, that go through a link on
the instance into shared storage: a release's `storage -> /mnt/efs/storage` (another file
system) or Capistrano's `media -> ../shared/media` (out of the `files` destinations).

The agent names each path as the appspec does; the kernel follows the link in the parent
path. installer.rb copies the bundle's `storage/avatar.png` onto the share (overwriting a
file of that name there) and writes the named path into the cleanup file; the next
deployment's install_instruction.rb cleanup removes every line with FileUtils.rm / rmdir,
which follow the same link: the files are deleted on the share, for every instance.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

from agentkit import beneath
from agentkit.appspec.rules import RULES
from agentkit.findings import ERROR, Finding
from agentkit.hostview.records import parent_of
from agentkit.hostview.view import HostView


class Through(NamedTuple):
    """The paths that go through one link."""

    link: str  # as the instance names it
    target: str  # where it leads
    why: str  # "another file system" or "outside the files destinations"
    paths: int
    named: str  # the first path, as the agent names it
    real: str  # where that one lands


def scan(sb: HostView, paths: Iterable[str], destinations: tuple[str, ...]) -> list[Through]:
    """The links that `paths` (one per line of a cleanup file) pass through into shared
    storage, each with how many paths go through it."""
    first: dict[str, str | None] = {"/": None}  # directory -> the first link above/at it
    judged: dict[str, tuple[str, str] | None] = {}  # link -> (target, why) if shared
    found: dict[str, Through] = {}
    for path in paths:
        link = _first_link(sb, parent_of(path), first)
        if link is None:
            continue
        if link not in judged:
            judged[link] = _shared(sb, link, destinations)
        verdict = judged[link]
        if verdict is None:
            continue
        seen = found.get(link)
        if seen is None:
            target, why = verdict
            real = os.path.join(target, os.path.relpath(path, link))
            found[link] = Through(link, target, why, 1, path, real)
        else:
            found[link] = seen._replace(paths=seen.paths + 1)
    return sorted(found.values())


def _first_link(sb: HostView, directory: str, first: dict[str, str | None]) -> str | None:
    """The outermost link on the way to `directory`, memoised per directory: one lstat per
    directory of the bundle, however deep (iterative, no recursion)."""
    chain = []
    while directory not in first:
        chain.append(directory)
        directory = parent_of(directory)
    above = first[directory]
    for d in reversed(chain):
        if above is None and sb.islink(d):
            above = d
        first[d] = above
    return above


def _shared(sb: HostView, link: str, destinations: tuple[str, ...]) -> tuple[str, str] | None:
    target = sb.resolve(link)
    if target is None:
        return None
    if _device(sb.host_path(parent_of(link))) != _device(sb.host_path(target)):
        return target, "another file system"
    if not any(_inside(target, d) for d in destinations):
        return target, "outside the files destinations"
    return None


def _device(path: str) -> int | None:
    """The host file system of `path` (its nearest existing ancestor on this machine)."""
    while True:
        try:
            return os.stat(path).st_dev
        except OSError:
            if path == "/":
                return None
            path = parent_of(path)


def _inside(path: str, root: str) -> bool:
    root = os.path.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def message(through: Through, cleanup: bool) -> str:
    where = f"{through.link} -> {through.target} ({through.why})"
    if cleanup:
        return (f"the previous revision's cleanup deletes {through.paths} path(s) through "
                f"{where}: e.g. {through.named} is {through.real} on the share")
    return (f"Install writes {through.paths} path(s) through {where}: e.g. {through.named} "
            f"lands at {through.real}, overwriting any file of that name there, and the next "
            "deployment's cleanup deletes them there")


def findings(view: HostView, cleanup_file: str, destinations: tuple[str, ...],
             cleanup: bool) -> list[Finding]:
    """AK515 for what the cleanup file lists (before the previous one is applied, or as this
    Install wrote it) that goes through a link into shared storage."""
    try:  # a link, FIFO or device a hook made there is the note of apply_cleanup
        fd = beneath.open_regular(cleanup_file)
    except OSError:
        return []
    with os.fdopen(fd, encoding="utf-8", errors="surrogateescape") as f:
        lines = (line.rstrip("\n") for line in f)
        found = scan(view, (p for p in lines if p.startswith("/")), destinations)
    return [Finding(ERROR, "AK515", t.link, None, None, message(t, cleanup),
                    RULES["AK515"].hint) for t in found]
