"""The programs of verify's own that the box runs at the paths hooks call them by: systemctl
and service (agentkit/systemd/services.py, on a python every user of the box may run) and
`agentkit` (verify's own, its libraries and python shown read-only where a `runas` user could
not reach them: a venv in a 0700 home or CI directory, a pyenv under /root).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shlex
import sys
import sysconfig
from collections.abc import Sequence

from agentkit import fstree, systemd
from agentkit.box.spec import SECRETS

SERVICES_LIB = "/usr/lib/agentkit-services"  # the box's copy of agentkit/box's service manager
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
        real = fstree.resolve_in(path, base)
        return _searchable(path, base) and _searchable(real, base) and \
            bool(os.stat(base + real).st_mode & 0o001)
    except OSError:
        return False


def _hidden(path: str, hidden: Sequence[str]) -> bool:
    """Whether the box shows `path` (this machine's) empty: hookbox.private_dirs."""
    real = os.path.realpath(path)
    return any(real == h or real.startswith(h + "/") for h in hidden)


def box_python(base: str, hidden: Sequence[str] = ()) -> str | None:
    """The python the box's systemctl runs on: the interpreter behind verify's own (not its
    venv: the modules need only the standard library) where every user of the box may run it
    and its library; else the machine's (or the image's) python3."""
    own = os.path.realpath(sys.executable)
    if not base and _reachable(own) and _reachable(sys.base_prefix) and \
            not _hidden(own, hidden) and not _hidden(sys.base_prefix, hidden):
        return own
    return next((p for p in BOX_PYTHONS if _reachable(p, base)), None)


def service_manager(base: str, hidden: Sequence[str] = ()
                    ) -> tuple[list[tuple[str, str, int]], str | None]:
    """systemctl and service in the box are agentkit's (agentkit/systemd/services.py), at the
    paths the hooks call them by; /bin and /sbin too where they are directories of their own
    (a merged /usr links them to /usr/bin and /usr/sbin). The modules are copied into the box
    (standard library only) and run isolated (-I) from the hook's PYTHONPATH, so a `runas`
    user can run them and an image's python3 can; or a note why there is none."""
    python = box_python(base, hidden)
    if python is None:
        return [], ("no python3 for the box's systemctl (none that every user may run "
                    f"among {', '.join(BOX_PYTHONS)}): hooks that call systemctl or service "
                    "fail in the box")
    # the whole package, as it is: it imports nothing of agentkit but itself
    package = os.path.dirname(os.path.abspath(systemd.__file__))
    out = [(f"{SERVICES_LIB}/agentkit/__init__.py", "", 0o644)]
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(f"{package}/{name}", encoding="utf-8") as f:
                out.append((f"{SERVICES_LIB}/agentkit/systemd/{name}", f.read(), 0o644))
    run = ("import sys\nif sys.version_info < (3, 9):\n"
           "    sys.exit('agentkit-systemd: needs python 3.9 or later in the box, this is ' + "
           "sys.version.split()[0])\n"
           f"sys.path.insert(0, {SERVICES_LIB!r})\n"
           "from agentkit.systemd.systemctl import main\nraise SystemExit(main(sys.argv[1:]))")
    for name, dirs in (("systemctl", ("/usr/bin", "/bin")), ("service", ("/usr/sbin", "/sbin"))):
        # the event a unit's action happened in, as the hook's environment says it
        shim = (f"#!/bin/sh\nAGENTKIT_SYSTEMD_PHASE=\"${{LIFECYCLE_EVENT:-}}\"\n"
                f"export AGENTKIT_SYSTEMD_PHASE\n"
                f"exec {shlex.quote(python)} -I -B -c {shlex.quote(run)} {name} \"$@\"\n")
        for d in dirs:
            if os.path.isdir(f"{base}{d}") and not os.path.islink(f"{base}{d}"):
                out.append((f"{d}/{name}", shim, 0o755))
    return out, None


CLI_DIR = "/usr/lib/agentkit-cli"  # where verify's own agentkit is shown, when it must be
Extra = tuple[str, "str | None", int]  # (box path, content or None for a directory, mode)
# What agentkit imports at run time: setup.py's install_requires and requests' own.
LIBRARIES = ("yaml", "structlog", "psutil", "requests", "urllib3", "idna", "certifi",
             "charset_normalizer")


def _dir_reachable(path: str) -> bool:
    """Whether any user of the box may list and enter the directory `path` (this machine's):
    the way to it searchable (`_searchable` of a name inside it), itself readable too."""
    try:
        return _searchable(path + "/-") and os.stat(path).st_mode & 0o005 == 0o005
    except OSError:
        return False


def _holds_secrets(tree: str) -> bool:
    """A tree that is, or holds, someone's home or credentials must not be shown as a whole
    under another name: the box hides SECRETS at the homes' own paths only."""
    homes = {os.path.realpath(p.pw_dir) for p in pwd.getpwall() if p.pw_dir not in ("", "/")}
    homes.add("/root")
    inside = tree.rstrip("/") + "/"
    return any(h == tree or h.startswith(inside) for h in homes) or \
        any(os.path.lexists(os.path.join(tree, name)) for name in SECRETS)


def _library_trees() -> list[str]:
    """The sys.path entries verify imports LIBRARIES from that the interpreter does not bring
    itself (a venv's or the user's site-packages; not the current directory, nor bin/)."""
    base = os.path.realpath(sys.base_prefix) + "/"
    trees = []
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        origin = os.path.realpath(spec.origin)
        top = os.path.dirname(os.path.dirname(origin)) if spec.submodule_search_locations \
            else os.path.dirname(origin)
        if not (top + "/").startswith(base):
            trees.append(top)
    return list(dict.fromkeys(trees))


def _show(tree: str, box: str, shown: list[tuple[str, str]], hidden: Sequence[str]
          ) -> str | None:
    """The path the box's agentkit imports `tree` by: its own where every user reaches it,
    else `box`, an overlay of it (None: it may not be shown, and the note says why)."""
    if _dir_reachable(tree) and not _hidden(tree, hidden):
        return tree
    if _holds_secrets(tree):
        return None
    shown.append((box, tree))
    return box


def _interpreter(shown: list[tuple[str, str]], hidden: Sequence[str]
                 ) -> tuple[str, list[str]] | None:
    """The python the box's agentkit runs on and the shell lines it needs first: verify's
    own, or its prefix shown at CLI_DIR/python (with its shared libpython, which an absolute
    RUNPATH would look for at the old place)."""
    python = os.path.realpath(sys.executable)
    if _reachable(python) and _dir_reachable(sys.base_prefix) and \
            not _hidden(python, hidden) and not _hidden(sys.base_prefix, hidden):
        return python, []
    prefix = os.path.realpath(sys.base_prefix)
    rel = os.path.relpath(python, prefix)
    if rel.startswith("..") or _show(prefix, f"{CLI_DIR}/python", shown, hidden) is None:
        return None
    lines = []
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        # the caller's value goes back before agentkit runs anything (-c below)
        lines = ['AGENTKIT_LD_WAS=${LD_LIBRARY_PATH-}',
                 f'LD_LIBRARY_PATH={CLI_DIR}/python/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}',
                 "export AGENTKIT_LD_WAS LD_LIBRARY_PATH"]
    return f"{CLI_DIR}/python/{rel}", lines


RESTORE_LD = ("import os; was = os.environ.pop('AGENTKIT_LD_WAS', None)\n"
              "if was is not None:\n"
              "    os.environ['LD_LIBRARY_PATH'] = was\n"
              "    if not was: del os.environ['LD_LIBRARY_PATH']\n")


def agentkit_command(hidden: Sequence[str] = ()
                     ) -> tuple[list[Extra], tuple[tuple[str, str], ...], str | None]:
    """/usr/local/bin/agentkit in the box: verify's own agentkit on verify's own python,
    isolated (-I) from the hook's PYTHONPATH. What a `runas` user could not reach (a venv in
    a 0700 home or CI directory, a pyenv under /root) is shown at CLI_DIR, an overlay, so
    hooks cannot change this machine's copy: the agentkit package itself, the site-packages
    of its libraries, the interpreter's prefix. Returns the files to add, the trees to show,
    or a note why there is no such command."""
    import agentkit

    shown: list[tuple[str, str]] = []
    package = os.path.dirname(os.path.realpath(agentkit.__file__))
    src = _show(package, f"{CLI_DIR}/src/agentkit", shown, hidden)
    libs = [_show(tree, f"{CLI_DIR}/lib{i}", shown, hidden)
            for i, tree in enumerate(_library_trees())]
    found = _interpreter(shown, hidden)
    if src is None or found is None or None in libs:
        return [], (), ("verify's own agentkit, its libraries or its python may not be shown "
                        "to a `runas` user of the box (a tree of them is or holds a home, or "
                        "the python is outside its prefix): hooks that call agentkit as such "
                        "a user fail")
    python, lines = found
    path = list(dict.fromkeys([os.path.dirname(src), *(lib for lib in libs if lib)]))
    code = (RESTORE_LD + f"import sys\nsys.path[:0] = {path!r}\n"
            "from agentkit.cli import main\nraise SystemExit(main())")
    # -B: the checkout gets no bytecode from the hooks; argv[0] is "-c", argparse's prog is set
    lines = ["#!/bin/sh", *lines, f"exec {shlex.quote(python)} -I -B -c {shlex.quote(code)} "
             '"$@"']
    files: list[Extra] = [(box, None, 0o755) for box, _ in shown]
    files.append(("/usr/local/bin/agentkit", "\n".join(lines) + "\n", 0o755))
    return files, tuple(shown), None
