"""systemd unit files as the service manager in the box reads them.

Where units are found and how they are written follow systemd's own documentation:
systemd.unit(5) (the system unit search path, drop-in `NAME.d/*.conf` directories, aliases by
symlink, a link to /dev/null masks, `@` templates and their %i/%I/%n/%N/%p specifiers, line
continuation with a trailing backslash, `#`/`;` comments, an empty assignment resetting a
list), systemd.service(5) (Type=, ExecStart= and its `-`/`@`/`+`/`!` prefixes, PIDFile=,
RemainAfterExit=) and systemd.exec(5) (User=, Group=, WorkingDirectory=, Environment=,
EnvironmentFile=). Only the files are read here; services.py runs them.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

# systemd.unit(5), "System Unit Search Path", the directories a package or an admin uses;
# /lib/systemd/system is where Debian and Ubuntu before the /usr merge put packaged units.
SEARCH_PATH = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
               "/usr/lib/systemd/system", "/lib/systemd/system")
# systemd.exec(5) "RuntimeDirectory=, StateDirectory=, ...": each name is made below its
# base, owned by User=/Group=, mode *DirectoryMode= (default 0755), before ExecStartPre=
DIRECTORIES = {"RuntimeDirectory": "/run", "StateDirectory": "/var/lib",
               "CacheDirectory": "/var/cache", "LogsDirectory": "/var/log",
               "ConfigurationDirectory": "/etc"}
# what the box reads and runs; any other [Service] setting is named in a note as not modelled
MODELLED = frozenset({"Type", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop",
                      "ExecStopPost", "ExecReload", "PIDFile", "RemainAfterExit", "User",
                      "Group", "WorkingDirectory", "Environment", "EnvironmentFile",
                      *DIRECTORIES, *(f"{d}Mode" for d in DIRECTORIES),
                      "TimeoutSec", "TimeoutStartSec",  # start_timeout()
                      # no difference a box can show: timing, logging and accounting knobs
                      "TimeoutStopSec", "RestartSec",
                      "StandardOutput", "StandardError", "SyslogIdentifier", "KillMode",
                      "KillSignal", "SuccessExitStatus", "Nice", "UMask", "Slice"})
LISTS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecStopPost",
         "ExecReload", "Environment", "EnvironmentFile", "WantedBy", "RequiredBy", "Alias",
         *DIRECTORIES)


@dataclass(frozen=True)
class Command:
    """One Exec*= line: its argv and whether a failure of it is ignored (`-`)."""

    argv: tuple[str, ...]
    ignore_failure: bool
    privileged: bool  # `+` or `!`: runs as root whatever User= says
    path: str = ""  # `@`: the program run, argv being the tokens after it (argv[0] its name)


@dataclass(frozen=True)
class Unit:
    name: str  # nginx.service, app@blue.service
    path: str  # the file read ("/dev/null" when masked)
    masked: bool = False
    settings: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    drop_ins: tuple[str, ...] = ()

    def get(self, section: str, key: str, default: str = "") -> str:
        values = self.settings.get(section, {}).get(key)
        return values[-1] if values else default

    def values(self, section: str, key: str) -> list[str]:
        return list(self.settings.get(section, {}).get(key, []))

    @property
    def type(self) -> str:
        exec_start = self.values("Service", "ExecStart")
        return self.get("Service", "Type", "simple" if exec_start else "oneshot")

    def commands(self, key: str) -> list[Command]:
        return [c for c in (parse_command(v) for v in self.values("Service", key)) if c]

    def not_modelled(self) -> list[str]:
        """[Service] settings the box ignores (Restart=, PrivateTmp=, Limit*=...)."""
        return sorted(k for k in self.settings.get("Service", {}) if k not in MODELLED)

    @property
    def installable(self) -> bool:
        return any(self.values("Install", k) for k in ("WantedBy", "RequiredBy", "Alias"))


def unit_name(text: str) -> str:
    """`nginx` → `nginx.service`, as systemctl completes a name without a type suffix."""
    base = os.path.basename(text)
    suffixes = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".slice")
    return base if base.endswith(suffixes) else f"{base}.service"


def _specifiers(text: str, name: str) -> str:
    prefix, _, rest = name.partition("@")
    instance = rest.rsplit(".", 1)[0] if rest else ""
    stem = name.rsplit(".", 1)[0]
    if not rest:  # not a template: the prefix is the whole name without its type
        prefix = stem
    table = {"i": instance, "I": instance, "n": name, "N": stem, "p": prefix, "%": "%"}
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _parse_into(path: str, name: str, settings: dict[str, dict[str, list[str]]]) -> None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            line, pending = pending + " " + line, ""
        elif not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep or not section:
            continue
        key, value = key.strip(), _specifiers(value.strip(), name)
        values = settings.setdefault(section, {}).setdefault(key, [])
        if key in LISTS:
            if value:
                values.append(value)
            else:
                values.clear()  # an empty assignment resets the list
        else:
            values[:] = [value]


def _drop_ins(names: list[str], root: str) -> list[str]:
    """`NAME.d/*.conf` of the unit (and of its template), across the search path: one file
    name once, the first directory's; applied in file-name order."""
    chosen: dict[str, str] = {}
    for directory in SEARCH_PATH:
        for name in names:
            d = f"{root}{directory}/{name}.d"
            try:
                entries = sorted(os.listdir(d))
            except OSError:
                continue
            for entry in entries:
                if entry.endswith(".conf") and entry not in chosen:
                    chosen[entry] = f"{d}/{entry}"
    return [chosen[k] for k in sorted(chosen)]


def find(text: str, root: str = "") -> Unit | None:
    """The unit `text` names (None: systemd has no such unit). `root` prefixes every path
    (tests read an image's files from outside it)."""
    name = unit_name(text)
    prefix, at, rest = name.partition("@")
    template = f"{prefix}@.{rest.rsplit('.', 1)[-1]}" if at and rest.split(".")[0] else None
    for directory in SEARCH_PATH:
        for candidate in (name, template):
            if candidate is None:
                continue
            path = f"{root}{directory}/{candidate}"
            if not os.path.lexists(path):
                continue
            real = os.path.realpath(path)
            if real == "/dev/null" or real == f"{root}/dev/null" or \
                    (os.path.islink(path) and os.readlink(path) == "/dev/null"):
                return Unit(name, "/dev/null", masked=True)
            if not os.path.isfile(path):
                continue
            settings: dict[str, dict[str, list[str]]] = {}
            _parse_into(path, name, settings)
            drop_ins = _drop_ins([n for n in (name, template) if n], root)
            for d in drop_ins:
                _parse_into(d, name, settings)
            shown = path[len(root):] if root else path
            return Unit(name, shown, settings=settings, drop_ins=tuple(drop_ins))
    return None


def parse_command(value: str) -> Command | None:
    """An Exec*= value: its prefixes, then a command line split as systemd does (quotes and
    backslashes; shlex's POSIX rules are the same for what units use)."""
    ignore = privileged = named = False
    while value and value[0] in "-@+!:":
        ignore = ignore or value[0] == "-"
        privileged = privileged or value[0] in "+!"
        named = named or value[0] == "@"
        value = value[1:]
    try:
        argv = tuple(shlex.split(value))
    except ValueError:
        return None
    if named and len(argv) >= 2:
        return Command(argv[1:], ignore, privileged, argv[0])
    return Command(argv, ignore, privileged) if argv else None


_SPAN = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 0.001,
         "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0,
         "hour": 3600.0, "hours": 3600.0}


def time_span(text: str) -> float | None:
    """systemd.time(5)'s time span: `90`, `5min 30s`, `1h`; `infinity` (or 0) is None (no
    limit). An unreadable one is None too, as systemd ignores a bad setting."""
    text = text.strip().lower()
    if text in ("", "infinity", "0"):
        return None
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        if unit not in _SPAN:
            return None
        total += float(number) * _SPAN[unit]
    return total or None


def start_timeout(unit: Unit, default: float) -> float | None:
    """TimeoutStartSec= (or TimeoutSec=); a oneshot service has none unless it says
    (systemd.service(5): TimeoutStartSec=)."""
    value = unit.get("Service", "TimeoutStartSec") or unit.get("Service", "TimeoutSec")
    if value:
        return time_span(value)
    return None if unit.type == "oneshot" else default


class MissingEnvironmentFile(OSError):
    """An EnvironmentFile= without `-` that cannot be read: systemd refuses the start."""


def environment(unit: Unit, root: str = "") -> dict[str, str]:
    """Environment= then EnvironmentFile= (later assignments win; a `-` file may be
    missing)."""
    env: dict[str, str] = {}
    for value in unit.values("Service", "Environment"):
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        for word in words:
            key, sep, val = word.partition("=")
            if sep and key:
                env[key] = val
    for value in unit.values("Service", "EnvironmentFile"):
        path = value[1:] if value.startswith("-") else value
        try:
            with open(root + path, encoding="utf-8", errors="replace") as f:
                lines = f.read(1 << 20).splitlines()
        except OSError as exc:
            if value.startswith("-"):
                continue
            raise MissingEnvironmentFile(exc.errno, f"Failed to load environment files: "
                                         f"{exc.strerror}", path) from None
        for line in lines:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            key, sep, val = line.partition("=")
            if sep:
                val = val.strip()
                if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
                    val = val[1:-1]
                env[key.strip()] = val
    return env


_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(argv: tuple[str, ...], env: dict[str, str]) -> list[str]:
    """`${VAR}` inside a word, `$VAR` as a whole word split at whitespace, `$$` for `$`
    (systemd.service(5), "Command lines")."""
    out: list[str] = []
    for word in argv:
        if word.startswith("$") and not word.startswith("${") and word[1:].isidentifier():
            out.extend(env.get(word[1:], "").split())
            continue
        parts = word.split("$$")  # `$$` is a literal `$`
        out.append("$".join(_BRACED.sub(lambda m: env.get(m.group(1), ""), p) for p in parts))
    return out
