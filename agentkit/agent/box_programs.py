"""The programs of verify's own that the box runs at the paths hooks call them by: systemctl
and service (agentkit/box/services.py, on a python every user of the box may run) and
`agentkit` (verify's own, its libraries and python shown read-only where a `runas` user could
not reach them: a venv in a 0700 home or CI directory, a pyenv under /root).
"""

from __future__ import annotations

import os
import shlex
import sys

SERVICES_LIB = "/usr/lib/agentkit-services"  # the box's copy of agentkit/box's service manager
SERVICE_MODULES = ("units", "services", "systemctl")
BOX_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/usr/libexec/platform-python")


def _searchable(path: str, base: str = "") -> bool:
    """Each directory on the way to `path` (a path inside `base`, the box's lower root),
    as written, searchable by others; the directories above `base` are not the box's."""
    parts = path.split("/")
    return all(os.stat(base + ("/".join(parts[:i]) or "/")).st_mode & 0o001
               for i in range(2, len(parts)))


def _reachable(path: str, base: str = "") -> bool:
    """Whether any user of the box may run `path`: the way to it as written and to what it
    links to searchable by others, the file executable by others (a venv in a 0700
    directory, or a pyenv under /root, is not, for a hook's `runas` user)."""
    try:
        real = _resolve(path, base)
        return _searchable(path, base) and _searchable(real, base) and \
            bool(os.stat(base + real).st_mode & 0o001)
    except OSError:
        return False


def _resolve(path: str, base: str) -> str:
    """`path` with its links followed as the box sees them, `base` being its / (an image's
    absolute link points into the image)."""
    todo, done, hops = [p for p in path.split("/") if p], "", 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            done = os.path.dirname(done)
            continue
        here = f"{done}/{part}"
        if os.path.islink(base + here):
            hops += 1
            if hops > 40:
                raise OSError(40, "too many levels of symbolic links", path)
            target = os.readlink(base + here)
            todo = [p for p in target.split("/") if p and p != "."] + todo
            done = "" if target.startswith("/") else done
            continue
        done = here
    return done or "/"


def box_python(base: str) -> str | None:
    """The python the box's systemctl runs on: the interpreter behind verify's own (not its
    venv: the modules need only the standard library) where every user of the box may run it
    and its library; else the machine's (or the image's) python3."""
    own = os.path.realpath(sys.executable)
    if not base and _reachable(own) and _reachable(sys.base_prefix):
        return own
    return next((p for p in BOX_PYTHONS if _reachable(p, base)), None)


def service_manager(base: str) -> tuple[list[tuple[str, str, int]], str | None]:
    """systemctl and service in the box are agentkit's (agentkit/box/services.py), at the
    paths the hooks call them by; /bin and /sbin too where they are directories of their own
    (a merged /usr links them to /usr/bin and /usr/sbin). The modules are copied into the box
    (standard library only) and run isolated (-I) from the hook's PYTHONPATH, so a `runas`
    user can run them and an image's python3 can; or a note why there is none."""
    python = box_python(base)
    if python is None:
        return [], ("no python3 for the box's systemctl (none that every user may run "
                    f"among {', '.join(BOX_PYTHONS)}): hooks that call systemctl or service "
                    "fail in the box")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = [(f"{SERVICES_LIB}/agentkit/__init__.py", "", 0o644),
           (f"{SERVICES_LIB}/agentkit/box/__init__.py", "", 0o644)]
    for module in SERVICE_MODULES:
        with open(f"{here}/box/{module}.py", encoding="utf-8") as f:
            out.append((f"{SERVICES_LIB}/agentkit/box/{module}.py", f.read(), 0o644))
    run = ("import sys\nif sys.version_info < (3, 9):\n"
           "    sys.exit('agentkit-systemd: needs python 3.9 or later in the box, this is ' + "
           "sys.version.split()[0])\n"
           f"sys.path.insert(0, {SERVICES_LIB!r})\n"
           "from agentkit.box.services import main\nraise SystemExit(main(sys.argv[1:]))")
    for name, dirs in (("systemctl", ("/usr/bin", "/bin")), ("service", ("/usr/sbin", "/sbin"))):
        shim = f"#!/bin/sh\nexec {shlex.quote(python)} -I -B -c {shlex.quote(run)} {name} \"$@\"\n"
        for d in dirs:
            if os.path.isdir(f"{base}{d}") and not os.path.islink(f"{base}{d}"):
                out.append((f"{d}/{name}", shim, 0o755))
    return out, None


CLI_DIR = "/usr/lib/agentkit-cli"  # where verify's own agentkit is shown, when it must be
Extra = tuple[str, "str | None", int]  # (box path, content or None for a directory, mode)


def _dir_reachable(path: str) -> bool:
    """Whether any user of the box may list and enter the directory `path` (this machine's)."""
    try:
        return _searchable(path + "/-") and os.stat(path).st_mode & 0o005 == 0o005
    except OSError:
        return False


def _library_trees() -> list[str]:
    """The directories verify imports agentkit and its libraries from that the interpreter
    does not bring itself: the one holding the agentkit package (a checkout, for an editable
    install) and the venv's or user's site-packages."""
    import agentkit

    own = os.path.dirname(os.path.dirname(os.path.abspath(agentkit.__file__)))
    base = os.path.realpath(sys.base_prefix) + "/"
    trees = [own]
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and not (real + "/").startswith(base):
            trees.append(real)
    return list(dict.fromkeys(trees))


def agentkit_command() -> tuple[list[Extra], tuple[tuple[str, str], ...], str | None]:
    """/usr/local/bin/agentkit in the box: verify's own agentkit on verify's own python,
    isolated (-I) from the hook's PYTHONPATH. A tree a `runas` user could not reach is shown
    at CLI_DIR (an overlay of it, so hooks cannot change this machine's copy); the
    interpreter's own prefix too, with its library path (a shared libpython found by an
    absolute RUNPATH). Returns the files to add, the trees to show, or a note why not."""
    shown: list[tuple[str, str]] = []
    path = []
    for i, tree in enumerate(_library_trees()):
        if _dir_reachable(tree):
            path.append(tree)
        else:
            shown.append((f"{CLI_DIR}/lib{i}", tree))
            path.append(shown[-1][0])
    python, lines = os.path.realpath(sys.executable), ["#!/bin/sh"]
    if not (_reachable(python) and _dir_reachable(sys.base_prefix)):
        prefix = os.path.realpath(sys.base_prefix)
        rel = os.path.relpath(python, prefix)
        if rel.startswith(".."):
            return [], (), (f"verify's python {python} is not below its prefix {prefix}, and "
                            "a `runas` user may not run it: hooks that call agentkit as such "
                            "a user fail in the box")
        shown.append((f"{CLI_DIR}/python", prefix))
        python = f"{CLI_DIR}/python/{rel}"
        lines.append(f"LD_LIBRARY_PATH={CLI_DIR}/python/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}")
        lines.append("export LD_LIBRARY_PATH")
    code = (f"import sys; sys.path[:0] = {path!r}; from agentkit.cli import main; "
            "raise SystemExit(main())")
    # -B: the checkout gets no bytecode from the hooks; argv[0] is "-c", argparse's prog is set
    lines.append(f"exec {shlex.quote(python)} -I -B -c {shlex.quote(code)} \"$@\"")
    files: list[Extra] = [(box, None, 0o755) for box, _ in shown]
    files.append(("/usr/local/bin/agentkit", "\n".join(lines) + "\n", 0o755))
    return files, tuple(shown), None
