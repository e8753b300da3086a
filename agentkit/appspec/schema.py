"""The appspec's keys and value shapes as data, and the JSON Schema built from them.

The linter reads the key tables (unknown-key warnings); `python -m agentkit.appspec.schema`
writes appspec/appspec.schema.json for editors, and a test checks the committed file is current.
Where public schemas are wrong this one follows the agent: `version` is the number 0.0, hooks
are lists of objects, `type` is a list, `mode` is octal digits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from agentkit import events

SCRIPT: dict[str, Any] = {
    "location": {"type": "string", "minLength": 1,
                 "description": "Script path relative to the bundle root (no shell, no args)."},
    "timeout": {"type": "integer", "minimum": 1, "default": 3600,
                "description": "Seconds; all timeouts of one event should add up to <= 3600."},
    "runas": {"type": "string", "minLength": 1,
              "description": "Linux user; the agent runs `su USER -c SCRIPT`."},
    "sudo": {"type": "boolean"},
}
FILE: dict[str, Any] = {
    "source": {"type": "string", "description": "Path in the bundle; `/` is the whole bundle."},
    "destination": {"type": "string",
                    "description": "Absolute directory; a file source lands in "
                                   "destination/<basename>."},
}
CONTEXT: dict[str, Any] = {
    "name": {"type": "string"}, "type": {"type": "string"},
    "range": {"type": "string", "pattern": r"^s\d+(-s\d+)?(:c\d+(\.c\d+)?(,c\d+(\.c\d+)?)*)?$"},
}
PERMISSION: dict[str, Any] = {
    "object": {"type": "string", "minLength": 1},
    "pattern": {"type": "string", "default": "**",
                "description": "`**` = all descendants; else a `*` glob over direct children."},
    "except": {"type": "array", "items": {"type": "string"}},
    "type": {"type": "array", "items": {"enum": ["file", "directory"]}},
    "owner": {"type": "string"}, "group": {"type": "string"},
    "mode": {"type": ["string", "integer"], "pattern": "^[0-7]{1,4}$",
             "minimum": 0, "maximum": 7777,
             "description": 'Quote it: `mode: "644"`. Unquoted 0644 is octal 420 to agent 1.x.'},
    "acls": {"type": "array", "items": {
        "type": "string", "pattern": r"^((d|default):)?(u|user|g|group|m|mask|o|other):"
                                     r"[^:]*:([0-7]|[rwx-]*)$"}},
    "context": {"type": "object", "required": ["type"], "properties": CONTEXT,
                "additionalProperties": False},
}
TOP: dict[str, Any] = {
    "version": {"type": "number", "enum": [0],
                "description": "The YAML number 0.0 (unquoted)."},
    "os": {"enum": ["linux", "windows"]},
    "files": {"type": ["array", "null"], "items": {
        "type": "object", "required": ["source", "destination"], "properties": FILE,
        "additionalProperties": False}},
    "permissions": {"type": ["array", "null"], "items": {
        "type": "object", "required": ["object"], "properties": PERMISSION,
        "additionalProperties": False}},
    "hooks": {"type": ["object", "null"],
              "propertyNames": {"enum": list(events.SCRIPTED)},
              "additionalProperties": {"type": ["array", "null"], "items": {
                  "type": "object", "required": ["location"], "properties": SCRIPT,
                  "additionalProperties": False}}},
    "file_exists_behavior": {"enum": ["DISALLOW", "OVERWRITE", "RETAIN"]},
}

TOP_KEYS = tuple(TOP)
SCRIPT_KEYS = tuple(SCRIPT)
FILE_KEYS = tuple(FILE)
PERMISSION_KEYS = tuple(PERMISSION)
CONTEXT_KEYS = tuple(CONTEXT)


def json_schema() -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/agentkit/agentkit/appspec/appspec.schema.json",
        "title": "AWS CodeDeploy AppSpec for EC2/on-premises (as the agent reads it)",
        "type": "object",
        "required": ["version", "os"],
        "properties": TOP,
        "additionalProperties": False,
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
