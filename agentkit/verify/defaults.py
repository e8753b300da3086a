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

from agentkit.errors import BadConfig
from agentkit.yamlconf import locate
from agentkit.yamlconf.agentkit_yml import VERIFY
from agentkit.yamlconf.reader import Conv, Reader, section_of
from agentkit.yamlconf.source import MappingNode, Node, ScalarNode
from agentkit.yamlconf.view import pos, value11


def find(explicit: str | None) -> str | None:
    """--config, then AGENTKIT_CONFIG, then agentkit.yml here; None when there is none (a
    file named explicitly must exist)."""
    return locate.find(explicit, "Point it at the project's agentkit.yml, or leave it out.")


def _image_path(node: Node) -> str:
    value = value11(node)
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value


def image(path: str) -> str | None:
    """`verify: image:` of the agentkit.yml at `path`, made absolute; None when not given."""
    _, section = section_of(path, "verify")
    if section is None or (isinstance(section, ScalarNode) and value11(section) is None):
        return None
    if not isinstance(section, MappingNode):
        raise BadConfig(f"{path}:{pos(section)[0] or 1}: verify: expected a mapping such as "
                        "`image: images/al2023.tar.gz`.")
    r = Reader(path, ("verify",))
    view = r.map(section, (), VERIFY.names())
    value = r.get(view, "image", (), Conv(_image_path),
                  "the path of an image directory or tarball")
    problems = r.problems()
    if problems:
        raise BadConfig(problems[0].text(path) + ".")
    if value is None:
        return None
    here = os.path.dirname(os.path.abspath(path))
    return os.path.normpath(os.path.join(here, os.path.expanduser(value)))
