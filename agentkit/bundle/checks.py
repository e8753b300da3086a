"""What is wrong with the unpacked bundle itself: hook scripts and symlinks.

Script rules follow hook_executor.rb (missing -> "Script does not exist at specified location",
a missing executable bit is fixed by the agent's own chmod, no shebang -> Ruby's ENOEXEC fallback
to /bin/sh, a CRLF shebang -> ENOENT for "/bin/bash\\r"); 2.x (lifecycle_event/script.rs) execs
directly, so a script without a shebang fails there with "Exec format error".
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from agentkit import fstree
from agentkit.appspec import ruby
from agentkit.appspec.rules import RULES
from agentkit.bundle import assets
from agentkit.findings import ERROR, WARNING, Finding

SHARED_NAMES = frozenset({"uploads", "media", "var", "storage", "shared", "pub", "files",
                          "assets", "images"})
SHARED_FILES = 1000  # a directory of that many files, with such a name, smells of a share
WALK_CAP = 200_000


class Unwritten(Protocol):
    """Bundle files read but not written (--no-install), by path relative to the root."""

    def __contains__(self, rel: object) -> bool: ...

    def count_under(self, rel_dir: str) -> int: ...

    def names_under(self, rel_dir: str, limit: int) -> list[str]: ...


def outside(archive: str, path: str) -> str | None:
    """Where `path` leads when a symlink on the way leaves the bundle (None: it stays in)."""
    real = os.path.realpath(path)
    root = os.path.realpath(archive)
    return None if real == root or real.startswith(root.rstrip("/") + "/") else real


def scripts(archive: str, shown_root: str, hooks: Mapping[str, Sequence[Any]],
            generation: str, skip: Callable[[str], bool] = lambda _loc: False
            ) -> Iterator[Finding]:
    """Each hook script once, however many events list it (the one shim under every event
    is one file: one finding, naming the events), in the order the appspec first lists it."""
    events: dict[str, list[str]] = {}
    for event, listed in hooks.items():
        for s in listed:
            if not skip(s.location):
                names = events.setdefault(s.location, [])
                if event not in names:
                    names.append(event)
    for location, names in events.items():
        yield from script(archive, shown_root, location, ", ".join(names), generation)


def script(archive: str, shown_root: str, location: str, event: str,
           generation: str) -> Iterator[Finding]:
    path = ruby.file_join(archive, location)  # hook_executor.rb#script_absolute_path
    shown = ruby.file_join(shown_root, location)
    missing = os.path.abspath(shown)  # the agent's message shows it File.expand_path'ed
    where = f"hooks > {event} > {location}"
    elsewhere = outside(archive, path) if os.path.lexists(path) else None
    if elsewhere is not None:  # never read a file of this machine the bundle points at
        yield Finding(ERROR, "AK506", shown, None, None,
                      f"{where}: the script is a link to {elsewhere}, outside the bundle: the "
                      "agent makes that file of the instance executable and runs it",
                      "ship the script itself in the bundle, not a link to it")
        return
    if not os.path.isfile(path):
        yield Finding(ERROR, "AK500", shown, None, None,
                      f"{where}: the script is not in the bundle",
                      "add the script to the bundle or fix the location (relative to the "
                      "bundle root)", f"Script does not exist at specified location: {missing}")
        return
    st = os.stat(path)
    if not st.st_mode & 0o111:
        yield Finding(WARNING, "AK501", shown, None, None,
                      f"{where}: not executable; the agent runs chmod +x on it itself",
                      f"git update-index --chmod=+x {location} (or chmod +x before archiving)")
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
    except OSError as exc:  # (chmod 000, as a plain user): the agent, as root, reads it
        yield Finding(WARNING, "AK508", shown, None, None,
                      f"{where}: this user cannot read the script ({exc.strerror}), so its "
                      "first line (shebang, BOM, line ending) is not checked; the agent, as "
                      "root, reads it", RULES["AK508"].hint)
        return
    if first.startswith(b"\xef\xbb\xbf"):
        yield Finding(WARNING, "AK505", shown, 1, 1,
                      f"{where}: starts with a UTF-8 byte order mark, so the kernel sees no "
                      "shebang", "save the script as UTF-8 without BOM")
        first = first[3:]
    yield from _shebang(first, shown, where, generation)


def _shebang(first: bytes, shown: str, where: str, generation: str) -> Iterator[Finding]:
    if not first.startswith(b"#!"):
        if generation == "2":
            yield Finding(ERROR, "AK502", shown, 1, 1,
                          f"{where}: no shebang; agent 2.x execs it directly and it fails with "
                          "Exec format error", "start the script with #!/bin/bash (or #!/bin/sh)",
                          "Exec format error (os error 8)")
        else:
            yield Finding(WARNING, "AK502", shown, 1, 1,
                          f"{where}: no shebang; agent 1.x runs it under /bin/sh (2.x fails)",
                          "start the script with #!/bin/bash (or #!/bin/sh)")
        return
    line = first.rstrip(b"\n")
    if line.endswith(b"\r"):
        message = (f"Script at specified location: {shown} failed with error Errno::ENOENT "
                   f"with message No such file or directory - {shown}" if generation == "1"
                   else "No such file or directory (os error 2)")
        yield Finding(ERROR, "AK504", shown, 1, len(line), f"{where}: the shebang line ends "
                      "in CR (Windows line endings): the kernel looks for an interpreter named "
                      "with a trailing \\r and the agent reports a misleading 'No such file'",
                      "convert the script to LF line endings (dos2unix; .gitattributes "
                      "`*.sh text eol=lf`)", message)
        return
    interpreter = line[2:].strip().split(b" ")[0].decode("utf-8", "replace")
    if interpreter and not os.access(interpreter, os.X_OK):
        yield Finding(WARNING, "AK503", shown, 1, 3,
                      f"{where}: interpreter {interpreter} does not exist on this machine",
                      "make sure the instance has it, or use #!/usr/bin/env NAME")


def tree(archive: str, shown_root: str, unwritten: Unwritten | None = None, image: str = ""
         ) -> Iterator[Finding]:
    """Every symlink in the bundle, judged by where it points, and the big directories whose
    names say they belong on shared storage (not those inside one already reported): one walk
    of the bundle, which has thousands of files. `unwritten` names bundle files that exist
    but were not written (verify --no-install). `image`: the instance's root file system,
    where a link to an absolute path points (else this machine's /)."""
    stack = [(archive, False)]  # a directory, and whether it lies in a shared-looking one
    too_deep = False
    while stack:
        directory, shared = stack.pop()
        try:
            with os.scandir(directory) as it:  # d_type: no stat per entry
                entries = list(it)
        except OSError:  # a path longer than PATH_MAX: GNU tar wrote it, no path reaches it
            if not too_deep:
                too_deep = True
                rel = os.path.relpath(directory, archive)
                shown = os.path.join(shown_root, rel[:120] + ("..." if len(rel) > 120 else ""))
                yield Finding(ERROR, "AK409", shown, None, None,
                              f"the bundle's paths are longer than this system allows "
                              f"({len(directory)} characters and more): the agent's installer "
                              "cannot reach them either", "flatten the bundle's directories")
            continue
        for entry in entries:
            if entry.is_symlink():
                rel = os.path.relpath(entry.path, archive)
                yield from _link(archive, entry.path, os.path.join(shown_root, rel),
                                 unwritten, image)
            elif entry.is_dir(follow_symlinks=False):
                found = None if shared else _shared(archive, shown_root, entry, unwritten)
                if found is not None:
                    yield found
                stack.append((entry.path, shared or found is not None))


def _link(archive: str, path: str, shown: str, unwritten: Unwritten | None,
          image: str = "") -> Iterator[Finding]:
    target = os.readlink(path)
    if target.startswith("/"):
        resolved = target
        if image:  # the instance's /mnt/efs/media: the image's, its own links followed there
            try:
                resolved = image.rstrip("/") + fstree.resolve_in(target, image.rstrip("/"))
            except OSError:  # a loop in the image: it dangles there
                resolved = image.rstrip("/") + target
    else:
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
        # absolute both: `lint .` has the archive "." and normpath drops the "./" of its paths
        if not (os.path.abspath(resolved) + "/").startswith(
                os.path.abspath(archive).rstrip("/") + "/"):
            yield Finding(ERROR, "AK513", shown, None, None,
                          f"symlink -> {target} points outside the bundle",
                          "link to an absolute instance path on purpose, or ship the file")
            return
    if os.path.isdir(resolved):
        size, count, capped = _size(resolved)
        amount = (f"{count}{'+' if capped else ''} files, {size / 1e6:.1f} MB "
                  f"{'in the image' if image else 'here'}")
        yield Finding(ERROR, "AK510", shown, None, None,
                      f"symlink -> {target} is a directory: the agent's installer copies the "
                      f"target's whole content instead of the link ({amount})",
                      "leave the link out of the archive and create it in AfterInstall "
                      "(agentkit hook link-shared)")
    elif target.startswith("/"):
        yield Finding(WARNING, "AK511", shown, None, None,
                      f"absolute symlink -> {target}: installed as a link to that path on the "
                      "instance", "make sure the target exists on every instance")
    elif (not os.path.lexists(resolved) or not os.path.exists(resolved)) and \
            (unwritten is None or os.path.relpath(resolved, archive) not in unwritten):
        yield Finding(WARNING, "AK512", shown, None, None,
                      f"symlink -> {target} dangles", "ship the target or drop the link")


def _size(path: str) -> tuple[int, int, bool]:
    """Bytes and files below path: no links followed, no other mount entered, capped, and
    iterative (a tree thousands of levels deep is walked like a flat one)."""
    total = count = 0
    try:
        device = os.stat(path).st_dev
    except OSError:
        return 0, 0, False
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = list(it)
        except OSError:
            continue  # a directory this user may not read, or out of PATH_MAX
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev == device:
                    stack.append(entry.path)
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
            count += 1
            if count >= WALK_CAP:
                return total, count, True
    return total, count, False


def _shared(archive: str, shown_root: str, entry: os.DirEntry[str],
            unwritten: Unwritten | None) -> Finding | None:
    if entry.name.lower() not in SHARED_NAMES:
        return None
    _size_bytes, count, _ = _size(entry.path)
    rel = os.path.relpath(entry.path, archive)
    count += unwritten.count_under(rel + "/") if unwritten is not None else 0
    if count < SHARED_FILES:
        return None
    # a build's compiled assets are as many, under the same names: judged by their names and
    # their manifest (assets.py), not by the count
    names = assets.sample(entry.path)
    if unwritten is not None and len(names) < assets.SAMPLE:
        names += unwritten.names_under(rel + "/", assets.SAMPLE - len(names))
    if assets.compiled(entry.path, names, archive):
        return None
    return Finding(WARNING, "AK514", os.path.join(shown_root, rel), None, None,
                   f"{rel}/ holds {count} files: it looks like shared storage that was copied "
                   "into the archive", "keep it on the share and link it into the release "
                   "(agentkit hook link-shared, shared.dirs)")
