"""agentkit.yml's keys as data: each section's keys, what they accept, their defaults, and a
line of documentation. The hooks (hooks/config.py), `appspec generate` (appspec/deploy_config.py)
and `verify` (verify/defaults.py) read their sections with these; `python -m
agentkit.yamlconf.agentkit_yml` writes schemas/agentkit-yml.schema.json for editors (a test
checks the committed file is current)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from agentkit import events
from agentkit.yamlconf.reader import (
    Conv,
    abs_path,
    boolean,
    choice,
    integer,
    list_of,
    mode,
    number,
    rel_path,
    scalar,
)
from agentkit.yamlconf.reader import regex as regex_conv
from agentkit.yamlconf.schema import Key, Section

EVENTS_ACTIONS = ("release", "link-shared", "permissions", "health up", "health down", "validate",
                  "preflight")
DEFAULT_LOG = "/var/log/agentkit/hooks.log"
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(x|[KMGT]?B?)", re.IGNORECASE)


def _size(node: Any) -> str:
    text = scalar(node).strip()
    if not SIZE.fullmatch(text):
        raise ValueError
    return text


size = Conv(_size, {"type": "string", "pattern": SIZE.pattern})
user = Conv(scalar.fn, {"type": "string"})  # a user name (looked up on the instance)
text = Conv(scalar.fn, {"type": ["string", "number"]})
RELS = "relative paths without '..'"

SHARED = Section("shared", (
    Key("root", abs_path, "an absolute path", required=" (the shared storage directory)"),
    Key("require_mount", choice("nfs", "nfs4", "efs", "any", "none"),
        "one of nfs, nfs4, efs, any, none", "none"),
    Key("dirs", list_of(rel_path), RELS, ()),
    Key("files", list_of(rel_path), RELS, ()),
    Key("link", choice("absolute", "relative"), "one of absolute, relative", "absolute"),
    Key("on_conflict", choice("backup", "seed", "fail"), "one of backup, seed, fail", "backup"),
    Key("missing_file", choice("fail", "touch", "seed"), "one of fail, touch, seed", "fail"),
    Key("owner", user, "a user name"),
    Key("group", user, "a group name"),
    Key("mode", mode, 'an octal mode like "2775"'),
))

PERMISSION_RULE = Section("permissions", (
    Key("path", abs_path, "an absolute path", required=""),
    Key("owner", user, "a user name"),
    Key("group", user, "a group name"),
    Key("file_mode", mode, 'an octal mode like "0644"'),
    Key("dir_mode", mode, 'an octal mode like "0755"'),
    Key("exclude", list_of(scalar), "a list of relative globs", ()),
    Key("cross_mounts", boolean, "true or false", False),
    Key("strict", boolean, "true or false", False),
))

DRAIN = Section("drain", (
    Key("interval", number, "seconds", 30.0),
    Key("unhealthy_threshold", integer, "a whole number", 2),
    Key("timeout", number, "seconds", 5.0),
))

HEALTH = Section("health", (
    Key("file", abs_path, "an absolute path", required=" (the health-check file)"),
    Key("drain", None, section=DRAIN),
    Key("content", text, "text", "OK\n"),
    Key("owner", user, "a user name"),
    Key("group", user, "a group name"),
))

VALIDATE = Section("validate", (
    Key("url", text, "a URL"),
    Key("status", list_of(integer), "a list of HTTP status codes", (200,)),
    Key("body", regex_conv, "a regular expression"),
    Key("headers", None, json={"type": "object", "additionalProperties": {
        "type": ["string", "number"]}}),
    Key("timeout", number, "seconds", 5.0),
    Key("deadline", number, "seconds", 120.0),
    Key("processes", list_of(scalar), "a list of process names", ()),
    Key("ports", list_of(integer), "a list of TCP ports", ()),
))

RELEASES = Section("releases", (
    Key("root", abs_path, "an absolute path", required=" (where releases/ and current live)"),
    Key("staging", abs_path, "an absolute path"),
    Key("keep", integer, "an integer of at least 2", 5),
    Key("swap", choice("AfterInstall", "ApplicationStart"),
        "one of AfterInstall, ApplicationStart", "AfterInstall"),
    Key("restart", list_of(scalar), "a command as a list of words", ()),
))

PREFLIGHT = Section("preflight", (
    Key("min_free", size, 'a multiple like "2x" or a size like "500MB"', "2x"),
    Key("users", list_of(scalar), "a list of user names", ()),
    Key("groups", list_of(scalar), "a list of group names", ()),
    Key("commands", list_of(scalar), "a list of commands", ()),
    Key("mounts", list_of(abs_path), "a list of mount points", ()),
))

LOG = Section("log", (
    Key("file", abs_path, "an absolute path", DEFAULT_LOG),
))

VERIFY = Section("verify", (
    Key("image", None, "the path of an image directory or tarball",
        json={"type": "string", "minLength": 1}),
))

NAME = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$", re.IGNORECASE)  # a POSIX user or group name
MODE3 = {"type": ["string", "integer"], "pattern": "^[0-7]{3}$"}
# deploy:'s values are read by appspec/deploy_config.py (each check is its own); the
# `expected` texts here are those its errors say
DEPLOY = Section("deploy", (
    Key("destination", None, "an absolute path (required unless `releases:` stages the bundle)",
        json={"type": "string", "pattern": "^/"}),
    Key("source", None, "/ or a path inside the bundle", "/", json={"type": "string"}),
    Key("owner", None, "a user name", json={"type": "string", "pattern": NAME.pattern}),
    Key("group", None, "a group name", json={"type": "string", "pattern": NAME.pattern}),
    Key("file_mode", None, "three octal digits such as 644", json=MODE3),
    Key("dir_mode", None, "three octal digits such as 755", json=MODE3),
    Key("file_exists_behavior", None, "DISALLOW, OVERWRITE or RETAIN",
        json={"enum": ["DISALLOW", "OVERWRITE", "RETAIN"]}),
    Key("runas", None, "a user name", json={"type": "string", "pattern": NAME.pattern}),
    Key("shim", None, "a path inside the bundle", "scripts/agentkit-hook.sh",
        json={"type": "string"}),
    Key("events", None, "a mapping of event names to timeouts in seconds (1 to 3600)",
        json={"type": "object", "propertyNames": {"enum": list(events.SCRIPTED)},
              "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 3600}}),
    Key("scripts", None, "a mapping of event names to lists of paths inside the bundle",
        json={"type": "object", "additionalProperties": {"anyOf": [
            {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}),
))

TOP = Section("", (
    Key("version", None, "1", required="", json={"const": 1}),
    Key("release", abs_path, "an absolute path"),
    Key("shared", None, section=SHARED),
    Key("permissions", None, "a list of rules", section=PERMISSION_RULE),
    Key("health", None, section=HEALTH),
    Key("validate", None, section=VALIDATE),
    Key("preflight", None, section=PREFLIGHT),
    Key("events", None, "a mapping of event names to lists of actions (" + ", ".join(
        EVENTS_ACTIONS) + ")", json={"type": "object", "propertyNames": {"enum": list(
            events.SCRIPTED)}, "additionalProperties": {"anyOf": [
                {"enum": list(EVENTS_ACTIONS)},
                {"type": "array", "items": {"enum": list(EVENTS_ACTIONS)}}]}}),
    Key("log", None, section=LOG),
    Key("releases", None, section=RELEASES),
    Key("deploy", None, section=DEPLOY),
    Key("verify", None, section=VERIFY),
))


def json_schema() -> dict[str, Any]:
    top = TOP.schema("")
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://github.com/agentkit/agentkit/schemas/agentkit-yml.schema.json",
            "title": "agentkit.yml", **top}


if __name__ == "__main__":
    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
