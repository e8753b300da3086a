"""The command lines of `systemctl` and `service` in the box, over services.py.

Verbs, options and words are systemctl(1)'s and service(8)'s (Debian's init-system-helpers
and Amazon Linux's initscripts agree on the `service NAME ACTION` form): a unit name without
a suffix means `.service`; `service NAME ACTION` runs the unit when there is one, else
/etc/init.d/NAME ACTION. A verb systemd does not have fails as systemd fails it (VERBS); a
real verb the box does not model is named in the unit's record (the report turns it into a
note) and succeeds, the closest honest answer for what it cannot know.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from agentkit.systemd import services, units
from agentkit.systemd.services import EXIT_NOT_FOUND, EXIT_NOT_RUNNING, Failed
from agentkit.systemd.units import Unit

CHANGING = ("start", "stop", "condstop", "restart", "reload", "try-restart",
            "reload-or-restart", "try-reload-or-restart", "reload-or-try-restart", "condrestart",
            "condreload", "force-reload", "enable", "disable", "mask", "unmask")
# The job each verb asks for, as systemctl names it in "Failed to JOB NAME: ..." (unit_actions
# of systemd's src/systemctl/systemctl-start-unit.c): the legacy aliases are their jobs'.
JOB_TYPES = {"condstop": "stop", "condrestart": "try-restart",
             "try-reload-or-restart": "reload-or-try-restart",
             "condreload": "reload-or-try-restart", "force-reload": "reload-or-try-restart"}
# Jobs that leave an inactive unit alone; a masked unit is no failure for them
# (start_unit_one(): TryRestartUnit and ReloadOrTryRestartUnit ignore BUS_ERROR_UNIT_MASKED).
TRY_JOBS = ("try-restart", "reload-or-try-restart")
QUERIES = ("is-active", "is-enabled", "is-failed", "status")
NO_OPS = ("daemon-reload", "daemon-reexec", "reset-failed", "preset")

# systemctl's verbs and how many words each takes, the verb included (None: any number):
# the table of systemctl_main() in systemd's src/systemctl/systemctl.c, as data. A verb not
# in it fails as systemd's dispatch_verb() (src/shared/verbs.c) fails it: "Unknown command
# verb X." (systemd 252, the one of Debian 12 and Amazon Linux 2023) and exit 1; one with too
# few or too many words, "Too few arguments." / "Too many arguments.", exit 1.
ANY = None
VERBS: dict[str, tuple[int | None, int | None]] = {
    **dict.fromkeys(("list-units", "list-unit-files", "list-automounts", "list-paths",
                     "list-sockets", "list-timers", "list-jobs", "list-machines", "cancel",
                     "is-failed", "show", "status", "help", "reset-failed",
                     "import-environment", "switch-root", "list-dependencies", "whoami",
                     "reload-or-restart"), (ANY, ANY)),
    **dict.fromkeys(("start", "stop", "condstop", "reload", "restart", "try-restart",
                     "reload-or-try-restart", "try-reload-or-restart", "force-reload",
                     "condreload", "condrestart", "kill", "clean", "freeze", "thaw",
                     "is-active", "check", "cat", "set-environment", "unset-environment",
                     "enable", "disable", "is-enabled", "reenable", "preset", "mask",
                     "unmask", "link", "revert", "edit"), (2, ANY)),
    **dict.fromkeys(("clear-jobs", "show-environment", "halt", "poweroff", "reboot", "kexec",
                     "soft-reboot", "sleep", "suspend", "hibernate", "hybrid-sleep",
                     "suspend-then-hibernate", "default", "rescue", "emergency", "preset-all",
                     "get-default", "is-system-running"), (ANY, 1)),
    **dict.fromkeys(("daemon-reload", "daemon-reexec"), (1, 1)),
    **dict.fromkeys(("log-level", "log-target", "service-watchdogs", "exit"), (ANY, 2)),
    **dict.fromkeys(("service-log-level", "service-log-target"), (2, 3)),
    "isolate": (2, 2), "set-default": (2, 2), "set-property": (3, ANY),
    "add-wants": (3, ANY), "add-requires": (3, ANY), "bind": (3, 4), "mount-image": (4, 5),
}


# what the caller calls the phase an action happened in (verify: the lifecycle event); the
# shim that runs this sets it
PHASE_ENV = "AGENTKIT_SYSTEMD_PHASE"


def _dispatch_error(words: list[str]) -> str | None:
    """systemd's own refusal of the command line, before any unit is looked at."""
    arity = VERBS.get(words[0])
    if arity is None:
        return f"Unknown command verb {words[0]}."
    least, most = arity
    if least is not None and len(words) < least:
        return "Too few arguments."
    if most is not None and len(words) > most:
        return "Too many arguments."
    return None
OPTIONS_WITH_VALUE = ("-p", "--property", "-t", "--type", "-n", "--lines", "-o", "--output",
                      "--state", "-H", "--host", "-M", "--machine", "--root", "--job-mode")


def _record(state: dict[str, Any], verb: str, result: str, code: int) -> None:
    state.setdefault("actions", []).append(
        {"event": os.environ.get(PHASE_ENV, ""), "action": verb, "result": result,
         "exit_code": code})


def _split(args: list[str]) -> tuple[list[str], set[str]]:
    words, flags = [], set()
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in OPTIONS_WITH_VALUE:
            skip = True
        elif arg.startswith("-"):
            flags.add(arg.split("=", 1)[0])
        else:
            words.append(arg)
    return words, flags


def _job(verb: str, unit: Unit, state: dict[str, Any], now: bool) -> list[str]:
    said: list[str] = []
    job = JOB_TYPES.get(verb, verb)
    if job == "start":
        services.start(unit, state)
    elif job == "stop":
        services.stop(unit, state)
    elif job == "restart":
        services.stop(unit, state)
        services.start(unit, state)
    elif job == "try-restart":
        services.refresh(state)
        if state["active"] == "active":
            services.stop(unit, state)
            services.start(unit, state)
    elif job in ("reload-or-restart", "reload-or-try-restart"):
        # force-reload is reload-or-try-restart too: a reload where the unit has one, else a
        # restart, and for the try- form only of an active unit (src/core/dbus-unit.c,
        # bus_unit_queue_job_one: RELOAD_OR_START / TRY_RELOAD / TRY_RESTART)
        services.refresh(state)
        if state["active"] == "active" and unit.commands("ExecReload"):
            services.reload(unit, state)
        elif state["active"] == "active" or job == "reload-or-restart":
            services.stop(unit, state)
            services.start(unit, state)
    elif verb == "reload":
        services.reload(unit, state)
    elif verb == "enable":
        said = services.enable(unit)
        if now:
            services.start(unit, state)
    elif verb == "disable":
        said = services.disable(unit)
        if now:
            services.stop(unit, state)
    return said


def _change(verb: str, names: list[str], flags: set[str]) -> int:
    if os.geteuid() != 0:  # polkit's answer to a hook that runs as a plain user, no TTY
        full = units.unit_name(names[0])
        if verb in ("enable", "disable", "mask", "unmask"):
            print(f"Failed to {verb} unit: Interactive authentication required.",
                  file=sys.stderr)
        else:
            print(f"Failed to {JOB_TYPES.get(verb, verb)} {full}: Interactive authentication "
                  "required.\n"
                  f"See system logs and 'systemctl status {full}' for details.",
                  file=sys.stderr)
        return 1
    status = 0
    with services.with_lock():
        for name in names:
            full = units.unit_name(name)
            if verb in ("mask", "unmask"):
                status = max(status, _mask(verb, full))
                continue
            unit = units.find(full)
            state = services.load(full)
            if unit is None or unit.masked:
                code = _unloadable(verb, full, unit is None)
                _record(state, verb, "unit not found" if unit is None else "unit masked", code)
                services.save(state)
                status = max(status, code)
                continue
            state["path"] = unit.path
            label = f"{verb} --now" if "--now" in flags and verb in ("enable", "disable") \
                else verb
            try:
                for line in _job(verb, unit, state, "--now" in flags):
                    print(line, file=sys.stderr)
                _record(state, label, "done", 0)
            except Failed as exc:
                print(str(exc), file=sys.stderr)
                _record(state, label, "failed", exc.code)
                status = max(status, exc.code)
            state["enabled"] = services.enabled_state(unit)
            services.save(state)
    return status


def _unloadable(verb: str, name: str, missing: bool) -> int:
    """What systemd says to a job or an unit file operation on a unit that does not exist
    or is masked, and its exit status (translate_bus_error_to_exit_status() of
    src/systemctl/systemctl-util.c: BUS_ERROR_NO_SUCH_UNIT is 5, any other error 1)."""
    job = JOB_TYPES.get(verb, verb)
    if verb in ("enable", "disable"):
        # src/shared/install.c: install_info_may_process() refuses a masked unit to enable
        # (ERFKILL, named by its file); install_context_mark_for_removal() skips it for
        # disable; a missing one is ENOENT to both (src/core/dbus-manager.c install_error())
        if missing:
            print(f"Failed to {verb} unit: Unit file {name} does not exist.", file=sys.stderr)
            return 1
        link = _mask_link(name)
        if verb == "disable":
            print(f"Unit {link} is masked, ignoring.", file=sys.stderr)
            return 0
        print(f"Failed to enable unit: Unit file {link} is masked.", file=sys.stderr)
        return 1
    if missing and job == "stop":
        # src/core/dbus-unit.c bus_unit_queue_job_one(): stopping an inactive unit that
        # did not load is "not loaded" (not "not found"), still NO_SUCH_UNIT
        print(f"Failed to stop {name}: Unit {name} not loaded.", file=sys.stderr)
        return EXIT_NOT_FOUND
    if missing:  # transaction_add_job_and_dependencies(): bus_unit_validate_load_state()
        print(f"Failed to {job} {name}: Unit {name} not found.", file=sys.stderr)
        return EXIT_NOT_FOUND
    if job == "stop" or job in TRY_JOBS:
        return 0  # stop is never refused a masked unit; the try- jobs ignore it
    print(f"Failed to {job} {name}: Unit {name} is masked.", file=sys.stderr)
    return 1


def _mask_link(name: str) -> str:
    """The file that masks `name` (the first of the search path, as units.find reads)."""
    for directory in units.SEARCH_PATH:
        if os.path.lexists(f"{directory}/{name}"):
            return f"{directory}/{name}"
    return f"/etc/systemd/system/{name}"


def _mask(verb: str, name: str) -> int:
    link = f"/etc/systemd/system/{name}"
    if not any(os.path.lexists(f"{d}/{name}") for d in units.SEARCH_PATH):
        # src/systemctl/systemctl-enable.c: mask and unmask check unit_exists() first
        print(f"Unit {name} does not exist, proceeding anyway.", file=sys.stderr)
    if verb == "mask":
        if os.path.lexists(link) and not os.path.islink(link):
            print(f"Failed to mask unit: File {link} already exists.", file=sys.stderr)
            return 1
        if not os.path.islink(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/dev/null", link)
            print(f"Created symlink {link} \u2192 /dev/null.", file=sys.stderr)
    elif os.path.islink(link) and os.readlink(link) == "/dev/null":
        os.unlink(link)
        print(f"Removed \"{link}\".", file=sys.stderr)
    return 0


def _query(verb: str, names: list[str], quiet: bool) -> int:
    status = 0
    for name in names:
        full = units.unit_name(name)
        unit = units.find(full)
        state = services.load(full)
        services.refresh(state)
        active = state["active"]
        if verb == "is-active":
            ok, text = active == "active", active
        elif verb == "is-failed":
            ok, text = active == "failed", active
        elif verb == "is-enabled":
            if unit is None:
                print(f"Failed to get unit file state for {full}: No such file or directory",
                      file=sys.stderr)
                status = max(status, 1)
                continue
            text = services.enabled_state(unit)
            ok = text in ("enabled", "static")
        else:
            return _status(full, unit, state)
        if not quiet:
            print(text)
        if not ok:
            status = max(status, EXIT_NOT_RUNNING if verb == "is-active" else 1)
    return status


def _status(name: str, unit: Unit | None, state: dict[str, Any]) -> int:
    if unit is None:
        print(f"Unit {name} could not be found.", file=sys.stderr)
        return 4
    description = unit.get("Unit", "Description", name)
    sub = {"active": "active (running)", "failed": "failed (Result: exit-code)",
           "inactive": "inactive (dead)", "activating": "activating (start)"}[state["active"]]
    if state["active"] == "active" and state.get("remain"):
        sub = "active (exited)"
    # print_status_info() of src/systemctl/systemctl-show.c: the state's glyph
    # (unit_active_state_to_glyph), the description only where it is not the name
    glyph = {"inactive": "\u25cb", "failed": "\u00d7"}.get(state["active"], "\u25cf")
    print(f"{glyph} {name}" + (f" - {description}" if description != name else ""))
    if unit.masked:  # its load error stands in for the file (print_status_info())
        print(f"     Loaded: masked (Reason: Unit {name} is masked.)")
    else:
        print(f"     Loaded: loaded ({unit.path}; {services.enabled_state(unit)})")
    print(f"     Active: {sub}")
    if state.get("main_pid") and state["active"] == "active":
        print(f"   Main PID: {state['main_pid']}")
    try:
        with open(f"{services.STATE}/{name}.log", encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-10:]
    except OSError:
        tail = []
    if tail:
        print()
        print("\n".join(tail))
    return 0 if state["active"] == "active" else EXIT_NOT_RUNNING


def _unsupported(verb: str, names: list[str]) -> int:
    if os.geteuid() == 0 and names:  # one without a unit (list-units) is nobody's to note
        with services.with_lock():
            for name in names:
                state = services.load(units.unit_name(name))
                _record(state, verb, "not modelled", 0)
                services.save(state)
    return 0


def systemctl(args: list[str]) -> int:
    words, flags = _split(args)
    if not words:
        return _unsupported("list-units", [])
    refused = _dispatch_error(words)
    if refused is not None:
        print(refused, file=sys.stderr)
        return 1
    verb, names = words[0], words[1:]
    if verb in NO_OPS:
        return 0
    if verb in CHANGING or verb in QUERIES:
        if not names:  # `status` alone: the whole system's, which the box does not model
            return _unsupported(verb, names)
        if verb in CHANGING:
            return _change(verb, names, flags)
        return _query(verb, names, "-q" in flags or "--quiet" in flags)
    return _unsupported(verb, names)


def service(args: list[str]) -> int:
    """service(8): `service NAME ACTION [OPTIONS]`; `--status-all` lists nothing here."""
    if not args or args[0].startswith("-"):
        return 0 if args and args[0] in ("--status-all", "--help", "--version") else 1
    name, action = args[0], (args[1] if len(args) > 1 else "")
    if units.find(name) is not None:
        verb = {"status": "status", "start": "start", "stop": "stop", "restart": "restart",
                "reload": "reload", "force-reload": "force-reload", "condrestart":
                "try-restart", "try-restart": "try-restart"}.get(action)
        if verb is None:
            print(f"Usage: /etc/init.d/{name} {{start|stop|restart|reload|status}}",
                  file=sys.stderr)
            return 2
        return systemctl([verb, name])
    script = f"/etc/init.d/{name}"
    if os.access(script, os.X_OK):
        os.execve(script, [script, *args[1:]], dict(os.environ))
    print(f"{name}: unrecognized service", file=sys.stderr)
    return 1


COMMANDS: dict[str, Callable[[list[str]], int]] = {"systemctl": systemctl, "service": service}


def main(argv: list[str] | None = None) -> int:
    """`python -m agentkit.systemd systemctl|service ARGS`, as the box's shims call it."""
    args = sys.argv[1:] if argv is None else argv
    run = COMMANDS.get(os.path.basename(args[0])) if args else None
    if run is None:
        print("usage: python -m agentkit.systemd systemctl|service ARGS", file=sys.stderr)
        return 2
    return run(args[1:])
