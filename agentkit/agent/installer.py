"""The Install step, as lib/instance_agent/plugins/codedeploy/installer.rb and
install_instruction.rb do it (2.x: src/installer/core.rs, commands/copy_command.rs), run into a
HostView instead of the host.

Order, as the agent: (1) apply and delete the previous cleanup file, before anything is
validated; (2) generate every instruction with its conflict checks (DISALLOW, two sources for
one destination, a permission matched twice...); (3) write -install.json; (4) execute,
recording each copy (before it runs) and mkdir (after) in the new cleanup file.

Over 500 lines: it mirrors installer.rb and install_instruction.rb step by step, one
method per step of theirs, so a reader can hold the two side by side; splitting it would
split that correspondence.
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from agentkit.agent import linked_dirs
from agentkit.agent.install_plan import (
    FRESH,
    InstallError,
    Instruction,
    Member,
    Plan,
)
from agentkit.agent.instruction_files import (
    context_json,
    copy_json,
    instruction_json,
    instruction_of,
    lines_backwards,
)
from agentkit.agent.layout import Deployment
from agentkit.appspec import acl, ruby
from agentkit.appspec.model import AppSpec, FileMapping, Permission
from agentkit.hostview import store
from agentkit.hostview.view import HostView

# Copies into directories the plan makes are planned and recorded in bulk (Plan.copy_fresh);
# off, every copy goes the general way (a test compares the two).
BULK = True

DISALLOW_MSG = ("The deployment failed because a specified file already exists at this "
                "location: {}")
BAD_FEB = ("The deployment failed because an invalid option was specified for "
           "fileExistsBehavior: {}. Valid options include OVERWRITE, RETAIN, and DISALLOW.")
BAD_PATTERN = ("The deployment failed because the application specification file includes an "
               "object ({}) with an invalid pattern ({}), such as a pattern for a file applied to "
               "a directory. Correct the permissions section of the AppSpec file, and then try "
               "again.")
BAD_EXCEPT = ("The deployment failed because the except parameter for a pattern in the "
              "permissions section ({}) for the object named {} contains an invalid format. "
              "Update the AppSpec file, and then try again.")


NIL_RANGE = "undefined method `get_range' for nil:NilClass"  # Ruby 3.2's NoMethodError
DEFAULT_ACL_ON_FILE = ("The deployment failed because the -d parameter has been specified to "
                      "apply an acl setting to a file. This parameter is supported for "
                      "directories only. Update the AppSpec file, and then try again.")


@dataclass
class _Dir:
    """A directory being planned by Installer._copy_dir."""

    entries: Iterator[os.DirEntry[str]]
    dest: str
    base: str  # dest, normalised
    base_key: str
    member_dir: str | None
    fresh: bool  # made by this plan: its regular files are planned a run at a time
    in_place: bool
    files: list[os.DirEntry[str]]
    host: linked_dirs.Tally | None = None  # below a link to a directory outside the bundle


@dataclass
class Installer:
    view: HostView  # the copy-on-write view of the instance Install writes into
    deployment: Deployment
    generation: str
    file_exists_behavior: str  # the deployment's value; the appspec's wins when set
    member_prefix: str = ""  # the top-level directory stripped from the archive, with "/"
    executed: int = 0
    _fresh_dirs: set[str] = field(default_factory=set)
    _recorded: int = 0  # the fresh copies up to this instruction are recorded
    semanage: int = 0  # SELinux contexts the agent would set (verify does not)
    cleanup_link: str | None = None  # the cleanup file was a link to this (not followed)
    cleanup_special: str | None = None  # ...or a FIFO, socket or device (not read)
    _parents: dict[str, str | None] = field(default_factory=dict)  # directory -> its target
    _leads: dict[str, bool] = field(default_factory=dict)  # _in_place's existing parents

    # --- step 1: the previous deployment's cleanup file --------------------------------------
    def apply_cleanup(self) -> int:
        """Delete what the cleanup file lists, last line first; returns how many paths."""
        path = self.deployment.cleanup_file
        if os.path.islink(path):  # a hook made it a link; the agent would read through it
            self.cleanup_link = os.readlink(path)
            os.unlink(path)
            return 0
        st = _lstat(path)
        if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            # a FIFO, socket or device a hook made there: the agent would block on it or
            # read a device; verify reads none of it, and Install writes a new file there
            self.cleanup_special = "a FIFO" if stat.S_ISFIFO(st.st_mode) else \
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a device"
            os.unlink(path)
            return 0
        if not os.path.isfile(path) or not self._cleanup_trusted(path):
            return 0
        removed = 0
        leads: dict[str, str | None] = {}  # a directory -> where it leads now
        for line in lines_backwards(path):
            target = line.strip()
            if not target or target.startswith("semanage\0"):
                continue
            # rm and rmdir follow links in the parent path (shared storage behind a link)
            real = self._kernel_path(target, leads)
            if real is None:
                continue
            if self.view.islink(real):
                self.view.remove(real)
                leads.clear()
            elif self.view.exists(real):
                if self.view.isdir(real):
                    if not self.view.rmdir(real):
                        continue  # ENOTEMPTY is ignored; the directory stays
                    leads.clear()
                else:
                    self.view.remove(real)
            else:
                continue
            removed += 1
        os.unlink(path)
        return removed

    def _kernel_path(self, path: str, leads: dict[str, str | None]) -> str | None:
        """The path a system call reaches for `path`: its parent directory followed through
        symlinks (not its last part); None when the parent does not exist. `leads` caches
        each parent's answer."""
        cut = path.rfind("/")
        parent = path[:cut] or "/"
        if parent not in leads:
            leads[parent] = self.view.resolve(parent)
        real = leads[parent]
        if real is None:
            return None
        return path if real == parent else f"{real.rstrip('/')}/{path[cut + 1:]}"

    def _cleanup_trusted(self, path: str) -> bool:
        if self.generation == "1":
            return True
        st = os.lstat(path)  # 2.x (installer/core.rs) skips a file others could have written
        # (the agent's root is root, or whoever runs verify: the files it writes are its own)
        return stat.S_ISREG(st.st_mode) and st.st_uid in (0, os.geteuid()) and \
            not st.st_mode & 0o022

    # --- step 2: the instructions ------------------------------------------------------------
    def plan(self, spec: AppSpec) -> Plan:
        plan = Plan(self.view.db, self.deployment.archive)
        try:
            for mapping in spec.files:
                self._mapping(plan, mapping, spec.file_exists_behavior or
                              self.file_exists_behavior)
            for perm in spec.permissions:
                self._permission(plan, perm)
        except InstallError:
            plan.flush()  # a conflict among the copies before it came first
            raise
        plan.flush()
        return plan

    def _mapping(self, plan: Plan, mapping: FileMapping, feb: str) -> None:
        source = ruby.file_join(self.deployment.archive, mapping.source)
        if self._is_dir(source):
            self._ancestors(plan, mapping.destination)
            self._copy_dir(plan, source, mapping.destination, feb)
        else:
            dest = os.path.join(mapping.destination, os.path.basename(source.rstrip("/")))
            self._ancestors(plan, dest)
            self._copy_file(plan, source, dest, feb, self._through_links(source)[1])

    def _is_dir(self, source: str, entry: os.DirEntry[str] | None = None) -> bool:
        """File.directory?, which follows links: through a bundle link to an absolute path,
        the image's answer when there is one (linked_dirs.instance_target). Else this
        machine's: the entry's own (which raises on a loop, as Dir.entries' copy then fails)."""
        instance = linked_dirs.instance_target(self.deployment.archive, source, self.view)
        if instance is None:
            return entry.is_dir() if entry is not None else os.path.isdir(source)
        return instance != linked_dirs.NOWHERE and self.view.isdir(instance)

    def _through_links(self, source: str) -> tuple[str, str | None]:
        """Where source really is, and the archive member that is when source reaches it
        through a link inside the bundle (its owner is the one the agent's preserving copy
        keeps); None when no link leads there, or the place is outside the bundle."""
        archive = os.path.realpath(self.deployment.archive)
        real = os.path.realpath(source)
        rel = os.path.relpath(real, archive)
        if not _inside(real, archive) or rel == os.path.relpath(source, self.deployment.archive):
            return real, None
        return real, rel

    def _ancestors(self, plan: Plan, path: str) -> None:
        missing = []
        parent = os.path.dirname(os.path.normpath(path))
        while parent not in ("/", ".", "") and not self.view.exists(parent) \
                and parent not in plan.mkdirs:
            missing.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(missing):
            plan.mkdir(directory)

    def _copy_dir(self, plan: Plan, source: str, dest: str, feb: str) -> None:
        """The agent's recursive copy of a directory (installer.rb#generate_directory_copy),
        in its order, with a stack instead of recursion: a bundle thousands of directories
        deep is planned as a flat one."""
        stack = [self._enter_dir(plan, source, dest, True, None)]
        while stack:
            frame = stack[-1]
            if frame is None:
                stack.pop()
                continue
            entry = next(frame.entries, None)
            if entry is None:
                plan.copy_fresh(frame.files, frame.base, frame.base_key, frame.in_place)
                stack.pop()
                continue
            if frame.host is not None and not plan.outside.admit(frame.host, entry):
                continue
            rel = None if frame.member_dir is None else f"{frame.member_dir}/{entry.name}"
            target = os.path.join(frame.dest, entry.name)
            if self._is_dir(entry.path, entry) if entry.is_symlink() else entry.is_dir():
                plan.copy_fresh(frame.files, frame.base, frame.base_key, frame.in_place)
                frame.files.clear()
                linked = entry.is_symlink() and frame.host is None
                stack.append(self._enter_dir(plan, entry.path, target, linked,
                                             None if linked else rel, frame.host))
            elif frame.fresh:  # nothing can be in the way
                frame.files.append(entry)
            else:
                self._copy_file(plan, entry.path, target, feb, rel)

    def _enter_dir(self, plan: Plan, source: str, dest: str, linked: bool,
                   member_dir: str | None,
                   host: linked_dirs.Tally | None = None) -> _Dir | None:
        """Plan the directory itself; its entries to go through (None: not copied).
        `linked`: source may be (or lie under) a symlink; a plain subdirectory is not.
        `member_dir`: the archive member source really is, when reached through a link.
        `host`: the tally of the linked directory outside the bundle source is under."""
        if os.path.dirname(dest) in plan.mkdirs:
            plan.mkdir(dest)
        elif not self.view.isdir(dest):
            plan.mkdir(dest, self.view.lexists(dest))
        scan = source
        if linked:
            real, through = self._through_links(source)
            if not _inside(real, self.deployment.archive):
                # The agent deep-copies it: this host's (or the image's) content, capped
                instance = linked_dirs.instance_target(self.deployment.archive, source,
                                                       self.view)
                if instance:
                    real, scan = instance, self.view.host_path(instance)
                host = plan.outside.start(source, real, bool(instance))
            member_dir = through or member_dir  # owners: those of the real members
        # Dir.entries order (installer.rb#generate_directory_copy): what the file system
        # lists, not sorted. On the instance's own kind of file system that is the agent's
        # order of install.json, of the cleanup file and of which conflict comes first.
        try:
            with os.scandir(scan) as it:
                entries = list(it)
        except PermissionError:
            if host is None:
                raise
            host.unreadable = True  # the agent, as root, reads it on the instance
            host.unreadable_at = host.unreadable_at or os.path.realpath(scan)
            return None
        except OSError as exc:  # ENAMETOOLONG, ELOOP: Ruby's Dir.entries fails the same way
            if not (isinstance(exc, FileNotFoundError) and host is not None and host.in_image):
                plan.flush()
                raise InstallError(self._os_error(exc.errno or errno.EIO, "dir_initialize",
                                                  source)) from None
            entries = []  # made by an earlier hook only (the box's, not the image's files)
        base = os.path.normpath(dest)
        fresh = BULK and base in plan.mkdirs and base != "/" and member_dir is None
        in_place = fresh and self._in_place(plan, base)
        if in_place:
            plan.fresh_parents.add(base)
        return _Dir(iter(entries), dest, base, store.key(base), member_dir, fresh, in_place, [],
                    host)

    def _copy_file(self, plan: Plan, source: str, dest: str, feb: str,
                   rel: str | None = None) -> None:
        # Inside a directory this deployment creates nothing can exist yet: no lookup needed.
        if os.path.dirname(dest) not in plan.mkdirs and self.view.exists(dest):
            if feb == "DISALLOW":
                raise InstallError(DISALLOW_MSG.format(dest))
            if feb == "RETAIN":
                return
            if feb != "OVERWRITE":
                raise InstallError(BAD_FEB.format(feb))
        plan.copy(source, dest, rel=rel)

    def _permission(self, plan: Plan, perm: Permission) -> None:
        obj = os.path.normpath(perm.object)
        default_acl = self.generation == "1" and acl.has_default_ruby(perm.acls)
        if plan.copied(obj) is not None:
            if "file" not in perm.types:
                return
            if perm.pattern != "**":
                raise InstallError(BAD_PATTERN.format(perm.object, perm.pattern))
            if perm.except_:
                raise InstallError(BAD_EXCEPT.format(_ruby_list(perm.except_), perm.object))
            if default_acl:
                raise InstallError(DEFAULT_ACL_ON_FILE)
            self._set(plan, obj, perm)
        elif obj in plan.mkdirs or self.view.isdir(obj):
            # find_matches checks every matched file before any permission is set
            if default_acl and "file" in perm.types and any(
                    _match(obj, p, perm) for p in plan.copies_below(obj)):
                raise InstallError(DEFAULT_ACL_ON_FILE)
            for target in self._matches(plan, obj, perm):
                self._set(plan, target, perm)

    def _matches(self, plan: Plan, obj: str, perm: Permission) -> Iterator[str]:
        if "file" in perm.types:
            yield from (p for p in plan.copies_below(obj) if _match(obj, p, perm))
        if "directory" in perm.types:
            yield from [p for p in plan.mkdirs if _match(obj, p, perm)]

    def _set(self, plan: Plan, target: str, perm: Permission) -> None:
        plan.permit(target)
        if perm.mode is not None:
            plan.add(Instruction("chmod", target, mode=perm.mode))
        if perm.acls:  # 1.x writes each entry as AceInfo#get_ace spells it
            plan.add(Instruction("setfacl", target, acl=perm.acls if self.generation == "2"
                                 else tuple(map(acl.ace_text_ruby, perm.acls))))
        if perm.context is not None and self.generation == "1":
            plan.add(Instruction("semanage", target, context=context_json(perm.context)))
            if perm.context.range is None:  # ChangeContextCommand#to_h: nil.get_range,
                plan.json_error = NIL_RANGE  # met before any JSON is generated (map(&:to_h))
        if perm.owner is not None or perm.group is not None:
            plan.add(Instruction("chown", target, owner=perm.owner, group=perm.group))

    # --- steps 3 and 4 -----------------------------------------------------------------------
    def execute(self, plan: Plan) -> None:
        """The agent writes every instruction to -install.json, then executes them in order.
        One pass here: each is written, then run until one fails; the rest are still written,
        and the file appears complete (renamed into place) before the failure is raised.
        Fresh copies (Plan.copy_fresh) are recorded in bulk before anything that could look
        at them runs (mkdirs cannot: the plan refused a directory over a copy)."""
        path = self.deployment.install_json
        if plan.json_error is not None and self.generation == "1":
            # installer.rb opens install.json for writing, then to_json raises: an empty
            # file, no cleanup file, nothing executed
            open(path, "w").close()
            raise InstallError(plan.json_error)
        self._fresh_dirs = self._made_in_place(plan)
        if not plan.fresh_parents <= self._fresh_dirs:
            # a later mapping planned a mkdir above them, where a file or a link to one is
            plan.unmark(plan.fresh_parents - self._fresh_dirs)
        self._recorded = 0
        tmp = f"{path}.tmp-{os.getpid()}"
        failure: Exception | None = None
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as js, \
                open(self.deployment.cleanup_file, "w", encoding="utf-8",
                     errors="surrogateescape") as cleanup:
            js.write('{"instructions":[')
            first = True
            for page in plan.pages(self.member_prefix):
                failure = self._page(plan, page, js, cleanup, failure, first)
                first = False
            js.write("]}")
        if failure is None:
            self._record_fresh(plan, 1 << 62)
        os.replace(tmp, path)
        if failure is not None:
            raise failure

    def _page(self, plan: Plan, page: list[tuple[Any, ...]], js: IO[str], cleanup: IO[str],
              failure: Exception | None, first: bool) -> Exception | None:
        """Write a page of Plan.pages to install.json and run it, unless an instruction before
        it failed; returns the failure. A fresh copy is only written down: recorded later."""
        sep = "" if first else ","
        fresh: list[str] = []  # a run of fresh copies' destinations
        for row in page:
            if row[12]:
                dest = store.unkey(row[1])
                js.write(sep + copy_json(store.unkey(row[2]), dest))
                fresh.append(dest)
            else:
                self._fresh_run(fresh, cleanup, failure)
                fresh = []
                dest, source = store.unkey(row[1]), store.unkey(row[2] or "")
                inst, member = instruction_of(row, dest, source)
                js.write(sep + instruction_json(inst))
                if failure is None:
                    failure = self._step(plan, row[13], inst, member, cleanup)
            sep = ","
        self._fresh_run(fresh, cleanup, failure)
        return failure

    def _fresh_run(self, fresh: list[str], cleanup: IO[str], failure: Exception | None) -> None:
        """A run of fresh copies is executed (recorded later, in bulk) unless Install has
        failed: each is in the cleanup file, as the agent writes it before the copy."""
        if failure is None and fresh:
            cleanup.write("\n".join(fresh) + "\n")
            self.executed += len(fresh)

    def _made_in_place(self, plan: Plan) -> set[str]:
        """The planned directories that will be made at their own path: not below an existing
        directory reached through a symlink (those land where the link leads, see _in_view),
        nor at or below a path that exists as something else. What is copied into them needs
        no lookup."""
        leads: dict[str, bool] = {}  # an existing parent -> whether it is where it says
        return {d for d in plan.mkdirs if self._in_place_of(plan, d, leads)} if BULK else set()

    def _in_place(self, plan: Plan, directory: str) -> bool:
        """_made_in_place of one directory, as the plan stands (execute checks it again)."""
        return self._in_place_of(plan, directory, self._leads)

    def _in_place_of(self, plan: Plan, directory: str, leads: dict[str, bool]) -> bool:
        top = directory
        while top in plan.mkdirs and top != "/":
            if top in plan.taken:  # its mkdir fails; what is planned below it meets a file
                return False
            top = top[:top.rfind("/")] or "/"
        if top not in leads:
            leads[top] = self.view.resolve(top) == top
        return leads[top]

    def _step(self, plan: Plan, seq: int, inst: Instruction, member: Member,
              cleanup: IO[str]) -> Exception | None:
        """Run one instruction (not a fresh copy); returns its failure."""
        if inst.type != "mkdir":
            self._record_fresh(plan, seq)
        try:
            self._run(inst, member, cleanup)
        except (InstallError, OSError) as exc:
            self._record_fresh(plan, seq)  # the fresh copies before it did happen
            return exc
        return None

    def _record_fresh(self, plan: Plan, before: int) -> None:
        """Record the fresh copies not yet recorded that come before instruction `before`."""
        if before > self._recorded + 1:
            self.view.record_all(FRESH, (store.key(self.member_prefix), self._recorded,
                                             before))
            self._recorded = before - 1

    def _run(self, inst: Instruction, member: Member, cleanup: IO[str]) -> None:
        if inst.type == "copy":
            cleanup.write(inst.path + "\n")  # before the copy, as the agent
            self._do_copy(inst, member)
        elif inst.type == "mkdir":
            self._do_mkdir(inst)
            cleanup.write(inst.path + "\n")
        elif inst.type == "chmod":
            self.view.chmod(self._followed(inst.path), int(inst.mode, 8))
        elif inst.type == "chown":
            self._do_chown(inst)
        elif inst.type == "semanage":  # not run here: the cleanup file says it was
            cleanup.write(f"semanage\0{self._followed(inst.path)}\n")
            self.semanage += 1
        self.executed += 1

    def _through(self, path: str) -> str:
        real = self.view.resolve(path)
        return real if real is not None else path

    def _followed(self, path: str) -> str:
        """File.chmod/File.chown follow a symlink: a dangling one fails (apply2files)."""
        real = self.view.resolve(path)
        if real is None:
            raise InstallError(self._os_error(errno.ENOENT, "apply2files", path))
        return real

    def _in_view(self, path: str, where: str, shown: str | None = None) -> str:
        """Where an operation on `path` lands: its parent directory is followed through
        symlinks, as the kernel does (a release directory linked to shared storage). A parent
        that is missing or not a directory fails as the agent's call does (`where` is Ruby's
        name for that call, `shown` what its message shows; default: path)."""
        if self._in_fresh(path):
            return path
        parent = path[:path.rfind("/")] or "/"
        real = self._kernel_path(path, self._parents)
        found = self._parents[parent]
        if real is None or found is None or not self.view.isdir(found):
            self._parents.pop(parent, None)  # it may exist later (a mkdir)
            raise InstallError(self._os_error(
                errno.ENOENT if found is None else errno.ENOTDIR, where, shown or path))
        return real

    def _in_fresh(self, path: str) -> bool:
        """Whether a normalised path's directory is one this deployment made in place:
        nothing else can be at the path."""
        return path[:path.rfind("/")] in self._fresh_dirs

    def _os_error(self, code: int, where: str, shown: str) -> str:
        """A system call's failure as the agent reports it: Ruby's Errno text (1.x) or Rust's
        io::Error (2.x)."""
        if self.generation == "2":
            return f"IO error: {os.strerror(code)} (os error {code})"
        return f"{os.strerror(code)} @ {where} - {shown}"

    def _do_mkdir(self, inst: Instruction) -> None:
        fresh = self._in_fresh(inst.path)
        path = inst.path if fresh else self._in_view(inst.path, "dir_s_mkdir")
        if not fresh and self.view.lexists(path):
            raise InstallError(self._os_error(errno.EEXIST, "dir_s_mkdir", inst.path))
        self.view.mkdir(path, new=fresh)

    def _do_copy(self, inst: Instruction, member: Member) -> None:
        src, dest = inst.source, inst.path
        try:
            lst = os.lstat(src)
        except FileNotFoundError:
            lst = None
        fresh = self._in_fresh(dest)
        if lst is not None and stat.S_ISLNK(lst.st_mode):
            link = os.readlink(src)
            if not fresh:
                dest = self._in_view(dest, "rb_file_s_symlink", f"({link}, {dest})")
                named = inst.path
                if self.generation == "1" and self.view.isdir(dest):
                    # FileUtils.symlink is ln_s: into a directory, named after the target
                    named = f"{inst.path}/{_ruby_basename(link)}"
                    dest = f"{self._through(dest).rstrip('/')}/{_ruby_basename(link)}"
                if self.view.lexists(dest) or self.view.exists(dest):
                    raise InstallError(self._os_error(errno.EEXIST, "syserr_fail2_in", named))
            self.view.symlink(link, dest)
            return
        if lst is None:
            raise InstallError(self._os_error(errno.ENOENT, "rb_sysopen", src))
        if not fresh:  # FileUtils.copy opens the source, then the destination
            dest = self._in_view(dest, "rb_sysopen")
        unchanged = lst.st_size == member.size and member.mtime is not None and \
            abs(lst.st_mtime - member.mtime) < 1e-3  # since unpacked (pax times: ns)
        if fresh:
            self.view.record_new(dest, src, lst, member.owner,
                                    member.sha if unchanged else None)
            return
        self.view.write_file(self._copy_target(dest, src), src,
                                mode=stat.S_IMODE(lst.st_mode), mtime=lst.st_mtime,
                                owner=member.owner, share=True, src_stat=lst,
                                sha=member.sha if unchanged else None)

    def _copy_target(self, dest: str, src: str) -> str:
        """Where FileUtils.copy really writes: into a directory, or through a symlink (1.x)."""
        if self.view.isdir(dest):
            if self.generation == "2":
                raise InstallError("IO error: Is a directory (os error 21)")
            return os.path.join(self._through(dest), os.path.basename(src))
        if self.view.islink(dest):
            if self.generation == "2":  # O_NOFOLLOW: the link is replaced by a file
                self.view.remove(dest)
                self._parents.clear()  # the link may have led to a directory
                return dest
            if self.view.exists(dest):
                return self._through(dest)
            # File.open follows the dangling link: the file is made where it points, and
            # fails (naming dest) when that place's directory is missing
            return self._in_view(_dangling(self.view, dest), "rb_sysopen", dest)
        return dest

    def _do_chown(self, inst: Instruction) -> None:
        uid = gid = -1
        if inst.owner is not None:
            try:
                uid = pwd.getpwnam(inst.owner).pw_uid
            except KeyError:
                raise InstallError(f"can't find user for {inst.owner}") from None
        if inst.group is not None:
            try:
                gid = grp.getgrnam(inst.group).gr_gid
            except KeyError:
                raise InstallError(f"can't find group for {inst.group}") from None
        target = self._followed(inst.path)
        entry = self.view.entry(target)
        if entry is not None:
            self.view.chown(target, entry.uid if uid < 0 else uid,
                               entry.gid if gid < 0 else gid)


def _ruby_basename(path: str) -> str:
    """File.basename: trailing slashes do not count."""
    return path.rstrip("/").rsplit("/", 1)[-1] or "/"


def _dangling(view: HostView, link: str) -> str:
    target = view.readlink(link)
    return os.path.normpath(os.path.join(os.path.dirname(link), target))


def _inside(path: str, root: str) -> bool:
    root = os.path.realpath(root)
    return path == root or path.startswith(root + "/")


def _glob(pattern: str, name: str) -> bool:
    """The agent's pattern: only `*` is special (linux_permission_info.rb#matches_simple_glob)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return bool(pattern) and re.fullmatch(regex, name, re.DOTALL) is not None


def _match(obj: str, candidate: str, perm: Permission) -> bool:
    base = obj.rstrip("/") + "/"
    if not candidate.startswith(base):
        return False  # strict descendants only: never the object itself
    rel = candidate[len(base):]
    if perm.pattern != "**" and ("/" in rel or not _glob(perm.pattern, rel)):
        return False
    return not ("/" not in rel and any(_glob(e, rel) for e in perm.except_))


def _ruby_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


__all__ = ["InstallError", "Installer"]


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
