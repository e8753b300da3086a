"""agentkit.yml as `agentkit lint` judges it: every problem `agentkit hook` would stop at, and
what only the instance would otherwise find against the appspec next to it.

- AK600: each problem config.check finds (the hooks exit 2 on it), with its line.
- AK601: the waits of an event's actions (validate's deadline plus one try, health down's
  drain) do not fit in the timeout of the appspec hook that runs them: the agent kills the
  hook (`hook run` itself refuses such a validate; a drain is cut short by the kill).
- AK602: `release` is not under a `files` destination: the hooks work on a directory this
  deployment does not install.
- AK603: a `$VARIABLE` in a path: config.py expands nothing (a path is used as written), so
  `release: /srv/app/$DEPLOYMENT_ID` is a directory named `$DEPLOYMENT_ID`.
- AK604: actions for an event under which the appspec runs no script: they never run.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from agentkit.appspec.model import AppSpec
from agentkit.appspec.rules import RULES
from agentkit.findings import ERROR, WARNING, Finding
from agentkit.hooks.config import Config, check, line_of
from agentkit.yamlconf.source import Node
from agentkit.yamlconf.view import Path, chain

_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


@dataclass(frozen=True)
class Wait:
    """How long one action of an event may take before it reports."""

    action: str
    seconds: float
    how: str  # `validate.deadline (120 s) plus one try (5 s)`
    where: Path  # the key that sets it


@dataclass(frozen=True)
class Overrun:
    """An event whose actions may take longer than the agent lets its hook run."""

    event: str
    limit: int  # the longest timeout among the event's scripts
    script_line: int | None  # that script's line in appspec.yml
    waits: tuple[Wait, ...]

    @property
    def seconds(self) -> float:
        return sum(w.seconds for w in self.waits)


def waits(cfg: Config, event: str) -> tuple[Wait, ...]:
    out = []
    for action in cfg.actions_for(event):
        if action == "validate" and cfg.validate is not None:
            v = cfg.validate
            out.append(Wait(action, v.deadline + v.timeout, f"validate.deadline "
                            f"({v.deadline:g} s) plus one try ({v.timeout:g} s)",
                            ("validate", "deadline")))
        elif action == "health down" and cfg.health is not None and cfg.health.drain.seconds:
            d = cfg.health.drain
            out.append(Wait(action, d.seconds, f"the health drain ({d.interval:g} x "
                            f"{d.unhealthy_threshold} + {d.timeout:g} = {d.seconds:g} s)",
                            ("health", "drain")))
    return tuple(out)


def overruns(cfg: Config, spec: AppSpec) -> list[Overrun]:
    """Each event whose actions' waits add up to more than its hook's timeout. The longest
    timeout of the event's scripts counts (the shim is one of them)."""
    out = []
    for event, _actions in cfg.events:
        scripts = spec.hooks.get(event, ())
        found = waits(cfg, event)
        if not scripts or not found:
            continue
        longest = max(scripts, key=lambda s: s.timeout)
        over = Overrun(event, longest.timeout, longest.line, found)
        if over.seconds > over.limit:
            out.append(over)
    return out


def findings(path: str, spec: AppSpec | None, appspec_path: str) -> list[Finding]:
    """Every finding for the agentkit.yml at `path` (shown as given), judged against the
    appspec at `appspec_path` as the selected agent read it (None: it could not)."""
    checked = check(path)
    if checked.config is None:
        return [Finding(ERROR, "AK600", path, p.line, p.column, p.message,
                        RULES["AK600"].hint) for p in checked.problems]
    cfg, root = checked.config, checked.root
    out = list(_variables(path, cfg, root))
    if spec is not None and spec.os != "windows":
        out += _waits(path, cfg, spec, root, os.path.basename(appspec_path))
        out += _release(path, cfg, spec, root, os.path.basename(appspec_path))
        out += _unscripted(path, cfg, spec, root, os.path.basename(appspec_path))
    return sorted(out, key=Finding.sort_key)


def _warn(code: str, path: str, line: int, message: str) -> Finding:
    return Finding(WARNING, code, path, line, None, message, RULES[code].hint)


def _paths(cfg: Config) -> Iterator[tuple[Path, str]]:
    """Every path agentkit.yml gives, with its key."""
    if cfg.release is not None:
        yield ("release",), cfg.release
    if cfg.shared is not None:
        yield ("shared", "root"), cfg.shared.root
        for key, rels in (("dirs", cfg.shared.dirs), ("files", cfg.shared.files)):
            for i, rel in enumerate(rels):
                yield ("shared", key, i), rel
    for i, rule in enumerate(cfg.permissions):
        yield ("permissions", i, "path"), rule.path
    if cfg.health is not None:
        yield ("health", "file"), cfg.health.file
    if cfg.preflight is not None:
        for i, mount in enumerate(cfg.preflight.mounts):
            yield ("preflight", "mounts", i), mount
    yield ("log", "file"), cfg.log_file


def _variables(path: str, cfg: Config, root: Node | None) -> Iterator[Finding]:
    for where, value in _paths(cfg):
        found = _VARIABLE.search(value)
        if found is None:
            continue
        yield _warn("AK603", path, line_of(root, where),
                    f"{chain(where)}: {found.group()} is not expanded: the hooks use the path "
                    f"as written, {value}")


def _waits(path: str, cfg: Config, spec: AppSpec, root: Node | None,
           appspec_name: str) -> Iterator[Finding]:
    for over in overruns(cfg, spec):
        at = f"line {over.script_line}" if over.script_line else "its default"
        hook = f"the {over.event} hook's timeout ({over.limit} s, {appspec_name} {at})"
        if len(over.waits) == 1:
            wait = over.waits[0]
            what = "before validate reports" if wait.action == "validate" else \
                "while it waits for the load balancer"
            yield Finding(ERROR, "AK601", path, line_of(root, wait.where),
                          None, f"{chain(wait.where)}: {wait.how} does not fit in {hook}: "
                          f"the agent kills the hook {what}", RULES["AK601"].hint)
            continue
        parts = " and ".join(w.how for w in over.waits)
        yield Finding(ERROR, "AK601", path,
                      line_of(root, ("events", over.event)),
                      None, f"events > {over.event}: {parts} take up to {over.seconds:g} s, "
                      f"longer than {hook}: the agent kills the hook", RULES["AK601"].hint)


def _inside(path: str, root: str) -> bool:
    root = posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _release(path: str, cfg: Config, spec: AppSpec, root: Node | None,
             appspec_name: str) -> Iterator[Finding]:
    if cfg.release is None:
        return
    destinations = [m.destination for m in spec.files]
    if any(_inside(cfg.release, d) for d in destinations):
        return
    installed = (f"the `files` destinations of {appspec_name} are "
                 f"{', '.join(dict.fromkeys(destinations))}" if destinations else
                 f"{appspec_name} installs no `files`")
    yield _warn("AK602", path, line_of(root, ("release",)),
                f"release: {cfg.release} is not installed by this deployment ({installed}): "
                "the hooks would link and fix a directory the bundle does not put there")


def _unscripted(path: str, cfg: Config, spec: AppSpec, root: Node | None,
                appspec_name: str) -> Iterator[Finding]:
    for event, actions in cfg.events:
        if actions and not spec.hooks.get(event):
            yield _warn("AK604", path, line_of(root, ("events", event)),
                        f"events > {event}: {appspec_name} runs no script under {event}, so "
                        f"{', '.join(actions)} never run{'s' if len(actions) == 1 else ''}")
