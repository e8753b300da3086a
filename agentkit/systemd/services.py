"""`systemctl` and `service` inside verify's box: a service manager for the hooks.

The box has no init that manages services, so the hooks' most common lines (`systemctl
restart nginx`, `service httpd start`, `systemctl enable app`) would fail there where an
instance's systemd runs them. These commands stand in for systemd: they read the units
(units.py), run Exec* lines as systemd.service(5) says, and answer with systemctl's exit
codes and messages (systemctl(1) "EXIT STATUS"; LSB's 3 = not running, 4/5 = no such unit).

A service's processes are found as systemd finds its cgroup's: every process carries
AGENTKIT_UNIT=<name> in its environment (inherited by what it forks), so a daemon that forks
and calls setsid (nginx) is still the unit's. Each unit's state and log live in STATE (the
box's /run, gone with the box); pid 1 of the box sends them to verify for the report. A
service started by one event's hook is not the hook's child, so it outlives the hook and runs
through the later events, until the box ends with the deployment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import ipaddress
import json
import os
import pwd
import signal
import stat
import time
from collections.abc import Iterator
from typing import Any

from agentkit.systemd import units
from agentkit.systemd.units import Command, Unit

STATE = "/run/agentkit-services"
MARK = "AGENTKIT_UNIT"
START_TIMEOUT = 90.0  # systemd's DefaultTimeoutStartSec
STOP_TIMEOUT = 5.0  # shorter than systemd's 90 s: nothing in a box needs more to stop
EXIT_NOT_FOUND = 5  # systemctl start/restart of a unit that does not exist
EXIT_NOT_RUNNING = 3  # LSB: is-active, status of a stopped unit
EXIT_NOT_IMPLEMENTED = 3  # a job type the unit does not have (reload without ExecReload=)


class Failed(Exception):
    """A job that failed: systemctl's message, and its exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- state -----------------------------------------------------------------------------------
def _state_path(name: str) -> str:
    return f"{STATE}/{name}.json"


MAX_READ = 1 << 20  # of a state file; a log's last this many bytes


def _read(path: str, tail: bool = False) -> bytes:
    """At most MAX_READ bytes of a regular file (its last ones with `tail`): pid 1 reads
    these for the report, and a hook may have made one a FIFO (no wait) or huge (no
    memory). Never through a final symlink."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        if tail and st.st_size > MAX_READ:
            os.lseek(fd, st.st_size - MAX_READ, os.SEEK_SET)
        return os.read(fd, MAX_READ)
    finally:
        os.close(fd)


def load(name: str) -> dict[str, Any]:
    try:
        state = json.loads(_read(_state_path(name)))
        if isinstance(state, dict):
            return {**state, "unit": name}
    except (OSError, ValueError):
        pass
    return {"unit": name, "active": "inactive", "main_pid": None, "actions": []}


def save(state: dict[str, Any]) -> None:
    tmp = _state_path(state["unit"]) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, _state_path(state["unit"]))


def journal(name: str, text: str) -> None:
    with open(f"{STATE}/{name}.log", "a", encoding="utf-8", errors="replace") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def collect(tail: int = 40) -> list[dict[str, Any]]:
    """Every unit the hooks touched, with the end of its log: for the report."""
    out = []
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(STATE)):
            if not entry.endswith(".json"):
                continue
            state = load(entry[:-len(".json")])
            pids = processes(state)  # one scan of /proc for the state and the listeners
            refresh(state, pids)
            try:
                lines = _read(f"{STATE}/{state['unit']}.log", tail=True).decode(
                    "utf-8", "replace").splitlines()
            except OSError:
                lines = []
            out.append({**state, "log": lines[-tail:], "listening": listening(pids)})
    return out


def _listen_sockets() -> dict[str, str]:
    """socket inode -> address of every TCP socket in LISTEN in the box's network namespace
    (proc(5): /proc/net/tcp and tcp6, state 0A)."""
    found = {}
    for family in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/net/{family}") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A":
                    found[fields[9]] = _address(fields[1])
    return found


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return f"{'.'.join(str(b) for b in reversed(raw))}:{int(port, 16)}"
    words = [raw[i:i + 4][::-1].hex() for i in range(0, 16, 4)]
    return f"[{ipaddress.IPv6Address(bytes.fromhex(''.join(words)))}]:{int(port, 16)}"


def listening(pids: list[int]) -> list[str]:
    """The TCP addresses the processes listen on (ValidateService's curl needs one)."""
    sockets = _listen_sockets()
    out = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in sockets:
                        out.add(sockets[target[8:-1]])
    return sorted(out)


# --- processes -------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def processes(state: dict[str, Any]) -> list[int]:
    """The unit's processes: those whose environment carries its mark, and the main process
    with its descendants (a daemon may wipe its environment: nginx keeps only TZ and writes
    its process title over it)."""
    mark = f"{MARK}={state['unit']}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, os.getpid()):
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/environ", "rb") as f:
            if mark in f.read().split(b"\0") and _alive(int(entry)):
                found.add(int(entry))
    main = state.get("main_pid")
    if isinstance(main, int) and main > 1 and _alive(main):
        found.add(main)
        found.update(p for p in _descendants(main) if _alive(p))
    found.discard(os.getpid())
    return sorted(found)


def _descendants(pid: int) -> set[int]:
    """pid's children, theirs and so on, from /proc/*/stat (standard library only: this
    module also runs on the box's own python, see agentkit/verify/hookbox.py)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError), \
                    open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def refresh(state: dict[str, Any], pids: list[int] | None = None) -> None:
    """An active service whose processes are all gone has stopped (failed, as systemd says
    of a main process that exits while nobody stopped it). `pids`: its processes, when the
    caller has them already."""
    if state["active"] == "active" and not state.get("remain") and \
            not (processes(state) if pids is None else pids):
        state["active"] = "failed"


def _credentials(unit: Unit, privileged: bool) -> tuple[int, int, list[int], str] | None:
    user = unit.get("Service", "User")
    if not user or privileged:
        return None
    entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    group = unit.get("Service", "Group")
    gid = entry.pw_gid if not group else \
        (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    return entry.pw_uid, gid, os.getgrouplist(entry.pw_name, gid), entry.pw_dir


def _child(unit: Unit, cmd: Command, env: dict[str, str], log: int) -> None:
    """In the forked child: become what the unit says, then exec (never returns)."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        creds = _credentials(unit, cmd.privileged)
        home = "/root"
        if creds is not None:
            uid, gid, groups, home = creds
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
        cwd = unit.get("Service", "WorkingDirectory")
        if cwd == "~":
            cwd = home
        os.chdir(cwd.lstrip("-") or "/")
        argv = units.expand(cmd.argv, env)
        os.execvpe(cmd.path or argv[0], argv, env)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(2, f"agentkit-systemd: {cmd.argv[0]}: {exc}\n".encode())
        os._exit(203 if isinstance(exc, OSError) else 217)  # EXIT_EXEC, EXIT_USER


def _env(unit: Unit, state: dict[str, Any]) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": os.environ.get("LANG", "C.UTF-8"), "INVOCATION_ID": os.urandom(16).hex()}
    with contextlib.suppress(units.MissingEnvironmentFile):  # start() refused it already
        env.update(units.environment(unit))
    if state.get("main_pid"):
        env["MAINPID"] = str(state["main_pid"])
    env[MARK] = unit.name
    return env


def spawn(unit: Unit, cmd: Command, state: dict[str, Any]) -> int:
    log = os.open(f"{STATE}/{unit.name}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        env = _env(unit, state)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child execs
            _child(unit, cmd, env, log)
        return pid
    finally:
        os.close(log)


def control(unit: Unit, cmd: Command, state: dict[str, Any], timeout: float | None) -> int:
    """Run a control process (ExecStartPre=, a forking ExecStart=, ExecStop=...) to its end;
    its exit status (a timeout kills it and counts as a failure; None: no timeout, the
    hook's own deadline still ends it)."""
    pid = spawn(unit, cmd, state)
    end = time.monotonic() + (timeout if timeout is not None else float("inf"))
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    journal(unit.name, f"agentkit-systemd: {unit.name}: {cmd.argv[0]} timed out after "
            f"{timeout or 0:g} s")
    return -signal.SIGKILL


def daemon(unit: Unit, cmd: Command, state: dict[str, Any]) -> int:
    """Start a main process that is not waited for (Type=simple/exec/notify): double fork,
    so it is the box's pid 1's child, not the hook's; returns its pid."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the intermediate child
        os.close(read)
        grandchild = os.fork()
        if grandchild == 0:
            os.close(write)
            log = os.open(f"{STATE}/{unit.name}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                          0o644)
            _child(unit, cmd, _env(unit, state), log)
        os.write(write, str(grandchild).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        main = int(f.read() or 0)
    os.waitpid(pid, 0)
    return main


# --- jobs ------------------------------------------------------------------------------------
def _job_failed(name: str) -> Failed:
    # systemd's src/shared/bus-wait-for-jobs.c (job result "failed" of a service whose
    # control process exited non-zero), as systemctl prints it to stderr
    return Failed(f"Job for {name} failed because the control process exited with error "
                  f"code.\nSee \"systemctl status {name}\" and \"journalctl -xeu {name}\" for "
                  "details.")


def _run_all(unit: Unit, key: str, state: dict[str, Any], timeout: float | None) -> bool:
    for cmd in unit.commands(key):
        code = control(unit, cmd, state, timeout)
        if code != 0 and not cmd.ignore_failure:
            journal(unit.name, f"agentkit-systemd: {unit.name}: {key}={' '.join(cmd.argv)} "
                    f"exited with status {code}")
            return False
    return True


def _pid_file(unit: Unit) -> int | None:
    path = unit.get("Service", "PIDFile")
    if not path:
        return None
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        with contextlib.suppress(OSError, ValueError), open(path) as f:
            return int(f.read().split()[0])
        time.sleep(0.02)
    return None


def _directories(unit: Unit) -> None:
    """RuntimeDirectory= and its kind, made as systemd makes them for the service's user."""
    creds = _credentials(unit, False)
    for key, base in units.DIRECTORIES.items():
        mode = int(unit.get("Service", f"{key}Mode", "0755"), 8)
        for value in unit.values("Service", key):
            for name in value.split():
                path = os.path.join(base, name.strip("/"))
                os.makedirs(path, exist_ok=True)
                os.chmod(path, mode)
                if creds is not None:
                    os.chown(path, creds[0], creds[1])


def start(unit: Unit, state: dict[str, Any]) -> None:
    refresh(state)
    if state["active"] == "active":
        return
    os.makedirs(STATE, exist_ok=True)
    state.update(active="activating", main_pid=None, remain=False,
                 not_modelled=unit.not_modelled())
    try:  # what systemd checks before it runs anything (a missing user is its 217/USER)
        units.environment(unit)
        _directories(unit)
    except (KeyError, ValueError, OSError) as exc:
        journal(unit.name, f"agentkit-systemd: {unit.name}: {exc}")
        state["active"] = "failed"
        raise _job_failed(unit.name) from None
    limit = units.start_timeout(unit, START_TIMEOUT)
    ok = _run_all(unit, "ExecStartPre", state, limit)
    kind = unit.type
    if ok and kind == "forking":
        ok = _run_all(unit, "ExecStart", state, limit)
        state["main_pid"] = _pid_file(unit)
    elif ok and kind == "oneshot":
        ok = _run_all(unit, "ExecStart", state, limit)
        state["remain"] = unit.get("Service", "RemainAfterExit").lower() in ("yes", "true", "1")
    elif ok:
        commands = unit.commands("ExecStart")
        if not commands:
            journal(unit.name, f"{unit.name}: Service has no ExecStart= setting. Refusing.")
            raise Failed(f"Failed to start {unit.name}: Unit {unit.name} has a bad unit file "
                         "setting.")
        state["main_pid"] = daemon(unit, commands[0], state)
        if kind in ("notify", "exec", "dbus"):
            time.sleep(0.1)  # notify: up once the main process is (no sd_notify here)
            ok = bool(processes(state))
    if ok:
        ok = _run_all(unit, "ExecStartPost", state, limit)
    if not ok:
        kill(state)
        state["active"] = "failed"
        raise _job_failed(unit.name)
    state["active"] = "active" if kind != "oneshot" or state["remain"] else "inactive"


def kill(state: dict[str, Any], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to every process of the unit, SIGKILL to what is left after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 1.0)):
        left = processes(state)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        end = time.monotonic() + wait
        while left and time.monotonic() < end:
            time.sleep(0.05)
            left = [p for p in left if _alive(p)]
        if not left:
            return


def stop(unit: Unit, state: dict[str, Any]) -> None:
    refresh(state)
    if state["active"] == "inactive" and not processes(state):
        return
    if state["active"] == "active":
        _run_all(unit, "ExecStop", state, STOP_TIMEOUT)
    kill(state)
    _run_all(unit, "ExecStopPost", state, STOP_TIMEOUT)
    state.update(active="inactive", main_pid=None, remain=False)


def reload(unit: Unit, state: dict[str, Any]) -> None:
    refresh(state)
    if not unit.commands("ExecReload"):
        # BUS_ERROR_JOB_TYPE_NOT_APPLICABLE, which systemctl exits 3 for (EXIT_NOTIMPLEMENTED:
        # translate_bus_error_to_exit_status() in src/systemctl/systemctl-util.c)
        raise Failed(f"Failed to reload {unit.name}: Job type reload is not applicable for "
                     f"unit {unit.name}.", EXIT_NOT_IMPLEMENTED)
    if state["active"] != "active":
        raise Failed(f"{unit.name} is not active, cannot reload.")
    if not _run_all(unit, "ExecReload", state, START_TIMEOUT):
        raise _job_failed(unit.name)


# --- enablement (links in /etc/systemd/system, as `systemctl enable` makes them) --------------
def _wants(unit: Unit) -> Iterator[str]:
    for key, suffix in (("WantedBy", "wants"), ("RequiredBy", "requires")):
        for value in unit.values("Install", key):
            for target in value.split():
                yield f"/etc/systemd/system/{target}.{suffix}/{unit.name}"


def enabled_state(unit: Unit) -> str:
    if unit.masked:
        return "masked"
    if not unit.installable:
        return "static"
    return "enabled" if any(os.path.lexists(p) for p in _wants(unit)) else "disabled"


def enable(unit: Unit) -> list[str]:
    said = []
    if not unit.installable:
        return ["The unit files have no installation config (WantedBy=, RequiredBy=, Also=, "
                "Alias= settings in the [Install] section, and DefaultInstance= for template "
                "units). This means they are not meant to be enabled or disabled using "
                "systemctl."]
    for link in _wants(unit):
        if os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(unit.path, link)
        said.append(f"Created symlink {link} \u2192 {unit.path}.")
    return said


def disable(unit: Unit) -> list[str]:
    said = []
    for link in _wants(unit):
        if os.path.islink(link):
            os.unlink(link)
            said.append(f"Removed \"{link}\".")
    return said


def with_lock() -> contextlib.AbstractContextManager[Any]:
    os.makedirs(STATE, exist_ok=True)
    lock = open(f"{STATE}/.lock", "w")  # noqa: SIM115 - closed by the context manager
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock
