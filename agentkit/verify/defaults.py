"""The `verify:` section of the project's agentkit.yml: what `agentkit verify` takes from it
when its options do not say, so CI and every laptop verify against the same instance.

```yaml
verify:
  image: images/al2023.tar.gz   # --image's default: relative to this file's directory, ~ expanded
```

The file is the project's own (`--config FILE`, else $AGENTKIT_CONFIG, else ./agentkit.yml),
never the copy inside the archive under test: what verify reads of this machine must not be
chosen by the bundle it judges. The hooks ignore the section.
"""

from __future__ import annotations

import os

from agentkit import environ
from agentkit.appspec.source import MappingNode, ScalarNode, read_source
from agentkit.appspec.view import MapView, pos, value11
from agentkit.errors import BadConfig

KEYS = ("image",)


def find(explicit: str | None) -> str | None:
    """--config, then AGENTKIT_CONFIG, then agentkit.yml here; None when there is none (a
    file named explicitly must exist)."""
    for candidate, how in ((explicit, "--config"),
                           (environ.get("AGENTKIT_CONFIG") or None, "AGENTKIT_CONFIG")):
        if candidate:
            if not os.path.isfile(candidate):
                raise BadConfig(f"{candidate}: no such file (from {how}). Point it at the "
                                "project's agentkit.yml, or leave it out.")
            return candidate
    return "agentkit.yml" if os.path.isfile("agentkit.yml") else None


def image(path: str) -> str | None:
    """`verify: image:` of the agentkit.yml at `path`, made absolute; None when not given."""
    src = read_source(path)
    if src.syntax_error is not None:
        e = src.syntax_error
        raise BadConfig(f"{path}:{e.line}: YAML syntax: {e.problem}")
    top = src.root
    section = MapView(top).get("verify") if isinstance(top, MappingNode) else None
    if section is None or (isinstance(section, ScalarNode) and value11(section) is None):
        return None
    if not isinstance(section, MappingNode):
        raise BadConfig(f"{path}:{pos(section)[0] or 1}: verify: expected a mapping such as "
                        "`image: images/al2023.tar.gz`.")
    view = MapView(section)
    for entry in view.entries():
        if entry.key not in KEYS:
            raise BadConfig(f"{path}:{pos(entry.key_node)[0] or 1}: verify > {entry.key}: "
                            f"unknown key; expected one of {', '.join(KEYS)}.")
    node = view.get("image")
    value = value11(node) if node is not None else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadConfig(f"{path}:{pos(node)[0] or 1}: verify > image: expected the path of "
                        f"an image directory or tarball, got {value!r}.")
    here = os.path.dirname(os.path.abspath(path))
    return os.path.normpath(os.path.join(here, os.path.expanduser(value)))
