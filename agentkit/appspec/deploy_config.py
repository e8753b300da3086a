"""The `deploy:` section of agentkit.yml: what `agentkit appspec generate` turns into an
appspec.yml. Every value is checked here, each problem reported with its line in
agentkit.yml as a context chain (`agentkit.yml:7: deploy > events > AfterInstall: ...`).

```yaml
deploy:
  destination: /var/www/app      # required: where the bundle's files go
  source: /                       # the part of the bundle installed (default: all of it)
  owner: www-data                 # optional: owner, group and modes of what is installed
  group: www-data
  file_mode: 644                  # three octal digits, written so 1.x and 2.x agree
  dir_mode: 755
  file_exists_behavior: OVERWRITE # optional: DISALLOW (the agent's default), OVERWRITE, RETAIN
  runas: deploy                   # optional: the user every hook runs as
  shim: scripts/agentkit-hook.sh  # the hook script every event runs (default)
  events:                         # the events with hooks, and each one's timeout in seconds
    AfterInstall: 300
    ValidateService: 120
  scripts:                        # the bundle's own scripts, after the shim, same timeout
    ApplicationStart: [scripts/start.sh]
```
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable

from agentkit import events as ev
from agentkit.errors import BadConfig
from agentkit.yamlconf.agentkit_yml import DEPLOY, NAME
from agentkit.yamlconf.reader import Conv, Reader, refuse, section_of
from agentkit.yamlconf.source import MappingNode, Node, ScalarNode
from agentkit.yamlconf.view import MapView, pos, value11

DEFAULT_RELEASE_TIMEOUT = 300
MAX_TIMEOUT = 3600  # the agent's limit for one script (application_specification.rb)


@dataclass(frozen=True)
class DeployConfig:
    destination: str
    source: str = "/"
    owner: str | None = None
    group: str | None = None
    file_mode: str | None = None
    dir_mode: str | None = None
    file_exists_behavior: str | None = None
    runas: str | None = None
    shim: str = "scripts/agentkit-hook.sh"
    events: tuple[tuple[str, int], ...] = ()
    # the bundle's own scripts of an event, run after the shim (e.g. ApplicationStart's
    # service start), each with the event's timeout
    scripts: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _text_of(node: Node) -> str:
    """A scalar as written: an integer keeps its digits (`file_mode: 0644` stays 0644)."""
    value = value11(node)
    if not isinstance(node, ScalarNode) or isinstance(value, bool):
        raise TypeError
    return str(value) if not isinstance(value, int) else node.value


def _shown(node: Node) -> Any:
    try:
        return _text_of(node)
    except TypeError:
        return value11(node)


def _text(check: Callable[[str], Any]) -> Conv[str]:
    """Text that `check` accepts."""
    def convert(node: Node) -> str:
        text = _text_of(node)
        if not check(text):
            raise ValueError
        return text
    return Conv(convert, show=_shown)


def _mode(text: str) -> bool:
    return re.fullmatch(r"[0-7]{3}", text) is not None


def _events(p: Reader, node: Node | None) -> tuple[tuple[str, int], ...]:
    if node is None or value11(node) is None:
        return ()
    if not isinstance(node, MappingNode):
        p.error(node, ("events",), "expected a mapping of event names to timeouts in seconds")
        return ()
    out = []
    for entry in MapView(node).entries():
        name, value = entry.key, value11(entry.value)
        if name not in ev.SCRIPTED:
            hint = ev.suggest(str(name))
            p.error(entry.key_node, ("events", str(name)), "not a lifecycle event with scripts"
                  + (f"; did you mean {hint}?" if hint else
                     f"; expected one of {', '.join(ev.SCRIPTED)}"))
        elif isinstance(value, bool) or not isinstance(value, int) or \
                not 1 <= value <= MAX_TIMEOUT:
            p.error(entry.value, ("events", str(name)),
                  f"expected a timeout in seconds from 1 to {MAX_TIMEOUT}, got {value!r}")
        else:
            out.append((str(name), value))
    order = {name: i for i, name in enumerate(ev.ORDERED)}
    return tuple(sorted(out, key=lambda e: order[e[0]]))


def _staging(top: Node | None) -> str | None:
    """releases.staging of the same file (default root/staging), when it has `releases:`:
    the hooks' release action takes the staged tree from there (hooks/release.py)."""
    section = MapView(top).get("releases") if isinstance(top, MappingNode) else None
    if not isinstance(section, MappingNode):
        return None
    view = MapView(section)
    values = {k: value11(view.get(k)) if view.get(k) is not None else None
              for k in ("root", "staging")}
    if isinstance(values["staging"], str):
        return values["staging"]
    return f"{str(values['root']).rstrip('/')}/staging" if isinstance(values["root"], str) \
        else None


def _scripts(p: Reader, node: Node | None, events: tuple[tuple[str, int], ...],
             inside: Callable[[str], bool]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`scripts: {Event: [path, ...]}`: events that are in `events`, paths in the bundle."""
    if node is None or value11(node) is None:
        return ()
    if not isinstance(node, MappingNode):
        p.error(node, ("scripts",), "expected a mapping of event names to lists of scripts")
        return ()
    have = dict(events)
    out = []
    for entry in MapView(node).entries():
        name, value = str(entry.key), value11(entry.value)
        paths = [value] if isinstance(value, str) else value
        if name not in have:
            p.error(entry.key_node, ("scripts", name), f"{name} is not in `events` (which "
                  "gives each event its timeout): add it there")
        elif not isinstance(paths, list) or not paths or \
                not all(isinstance(t, str) and inside(t) for t in paths):
            p.error(entry.value, ("scripts", name), "expected a list of paths inside the "
                  f"bundle, got {value!r}")
        else:
            out.append((name, tuple(paths)))
    return tuple(out)


def _release_events(top: Node | None,
                    events: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """With `releases:`, the shim runs in AfterInstall (the release is built) and in the
    swap event: those are added when `deploy.events` leaves them out (300 s, the agent's
    usual hook budget here)."""
    section = MapView(top).get("releases") if isinstance(top, MappingNode) else None
    if not isinstance(section, MappingNode):
        return events
    swap = value11(MapView(section).get("swap")) if MapView(section).get("swap") else None
    needed = ["AfterInstall"] + (["ApplicationStart"] if swap == "ApplicationStart" else [])
    have = {name for name, _ in events}
    out = [*events, *((name, DEFAULT_RELEASE_TIMEOUT) for name in needed if name not in have)]
    order = {name: i for i, name in enumerate(ev.ORDERED)}
    return tuple(sorted(out, key=lambda e: order[e[0]]))


def parse(path: str) -> DeployConfig:
    """The `deploy:` section of the agentkit.yml at `path`; BadConfig lists every problem."""
    top, section = section_of(path, "deploy")
    if not isinstance(section, MappingNode):
        raise BadConfig(f"{path}:{pos(section or top)[0] or 1}: deploy: expected a mapping "
                        "with at least `destination` (agentkit init writes an example).")
    p = Reader(path, ("deploy",))
    view = p.map(section, (), DEPLOY.names())
    assert view is not None
    absolute = ("an absolute path", lambda t: t.startswith("/") and "\0" not in t)
    destination = p.get(view, "destination", (), _text(absolute[1]), absolute[0])
    staging = _staging(top)
    if destination is None and "destination" not in view:
        if staging is None:
            p.error(section, ("destination",), "required: where the bundle's files are "
                    "installed")
        destination = staging  # a releases layout stages every release there
    elif staging is not None and destination is not None and destination != staging:
        p.error(view.get("destination"), ("destination",), f"with `releases:` the bundle is "
                f"staged in {staging} (releases.staging), not {destination}: drop "
                "`destination` or make it that path")
    relative = ("a path inside the bundle", lambda t: not t.startswith("/") and
                ".." not in t.split("/") and bool(t.strip()))
    cfg = DeployConfig(
        destination=destination or "/",
        source=p.get(view, "source", (), _text(lambda t: t == "/" or relative[1](t)),
                     "/ or " + relative[0]) or "/",
        owner=p.get(view, "owner", (), _text(NAME.match), "a user name"),
        group=p.get(view, "group", (), _text(NAME.match), "a group name"),
        file_mode=p.get(view, "file_mode", (), _text(_mode), "three octal digits such as 644"),
        dir_mode=p.get(view, "dir_mode", (), _text(_mode), "three octal digits such as 755"),
        file_exists_behavior=p.get(view, "file_exists_behavior", (), _text(
            lambda t: t in ("DISALLOW", "OVERWRITE", "RETAIN")), "DISALLOW, OVERWRITE or RETAIN"),
        runas=p.get(view, "runas", (), _text(NAME.match), "a user name"),
        shim=p.get(view, "shim", (), _text(relative[1]), relative[0])
        or "scripts/agentkit-hook.sh",
        events=_release_events(top, _events(p, view.get("events"))))
    cfg = dataclasses.replace(cfg, scripts=_scripts(p, view.get("scripts"), cfg.events,
                                                    relative[1]))
    problems = p.problems()
    refuse(path, problems)
    return cfg
