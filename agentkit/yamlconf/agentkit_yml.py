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
    Key("root", abs_path, "an absolute path", required=" (the shared storage directory)",
        doc="The shared storage directory (an NFS/EFS mount, or a directory on it)."),
    Key("require_mount", choice("nfs", "nfs4", "efs", "any", "none"),
        "one of nfs, nfs4, efs, any, none", "none",
        doc="Refuse to link unless root is on a mount of this type."),
    Key("dirs", list_of(rel_path), RELS, (), doc="Directories linked into each release."),
    Key("files", list_of(rel_path), RELS, (), doc="Files linked into each release."),
    Key("link", choice("absolute", "relative"), "one of absolute, relative", "absolute",
        doc="Link targets absolute, or relative to the link."),
    Key("on_conflict", choice("backup", "seed", "fail"), "one of backup, seed, fail", "backup",
        doc="A real directory or file where a link goes: moved aside, seeds the share, or fail."),
    Key("missing_file", choice("fail", "touch", "seed"), "one of fail, touch, seed", "fail",
        doc="A shared file that does not exist yet."),
    Key("owner", user, "a user name", doc="Owner of what link-shared creates in the share."),
    Key("group", user, "a group name", doc="Group of what link-shared creates in the share."),
    Key("mode", mode, 'an octal mode like "2775"', doc="Mode of directories it creates."),
), doc="Capistrano's linked_dirs/linked_files on shared storage (agentkit hook link-shared).")

PERMISSION_RULE = Section("permissions", (
    Key("path", abs_path, "an absolute path", required="", doc="The tree the rule applies to."),
    Key("owner", user, "a user name"),
    Key("group", user, "a group name"),
    Key("file_mode", mode, 'an octal mode like "0644"'),
    Key("dir_mode", mode, 'an octal mode like "0755"'),
    Key("exclude", list_of(scalar), "a list of relative globs", (),
        doc="Names below path left alone (a name, not a file: see the security notes)."),
    Key("cross_mounts", boolean, "true or false", False,
        doc="Also descend into other file systems below path."),
    Key("strict", boolean, "true or false", False,
        doc="Fail on the first change that cannot be made, instead of warning."),
), doc="One rule of `agentkit hook permissions`.")

DRAIN = Section("drain", (
    Key("interval", number, "seconds", 30.0, doc="The target group's health check interval."),
    Key("unhealthy_threshold", integer, "a whole number", 2),
    Key("timeout", number, "seconds", 5.0),
), doc="How long `health down` waits for the load balancer to see the instance unhealthy.")

HEALTH = Section("health", (
    Key("file", abs_path, "an absolute path", required=" (the health-check file)",
        doc="The file the load balancer's health check requests."),
    Key("drain", None, section=DRAIN),
    Key("content", text, "text", "OK\n"),
    Key("owner", user, "a user name"),
    Key("group", user, "a group name"),
), doc="The ALB health file (agentkit hook health up|down).")

VALIDATE = Section("validate", (
    Key("url", text, "a URL", doc="Requested until it answers as expected."),
    Key("status", list_of(integer), "a list of HTTP status codes", (200,)),
    Key("body", regex_conv, "a regular expression", doc="The body must match it."),
    Key("headers", None, json={"type": "object", "additionalProperties": {
        "type": ["string", "number"]}}, doc="Request headers."),
    Key("timeout", number, "seconds", 5.0, doc="Per try."),
    Key("deadline", number, "seconds", 120.0, doc="For all tries."),
    Key("processes", list_of(scalar), "a list of process names", ()),
    Key("ports", list_of(integer), "a list of TCP ports", ()),
), doc="What `agentkit hook validate` checks in ValidateService.")

RELEASES = Section("releases", (
    Key("root", abs_path, "an absolute path", required=" (where releases/ and current live)"),
    Key("staging", abs_path, "an absolute path",
        doc="The appspec's files destination (default: root/staging)."),
    Key("keep", integer, "an integer of at least 2", 5, doc="Releases kept."),
    Key("swap", choice("AfterInstall", "ApplicationStart"),
        "one of AfterInstall, ApplicationStart", "AfterInstall",
        doc="The event whose `release` action points current at the new release."),
    Key("restart", list_of(scalar), "a command as a list of words", (),
        doc="What a rollback runs after its swap."),
), doc="Capistrano's releases/ and an atomic current (agentkit hook release).")

PREFLIGHT = Section("preflight", (
    Key("min_free", size, 'a multiple like "2x" or a size like "500MB"', "2x"),
    Key("users", list_of(scalar), "a list of user names", ()),
    Key("groups", list_of(scalar), "a list of group names", ()),
    Key("commands", list_of(scalar), "a list of commands", ()),
    Key("mounts", list_of(abs_path), "a list of mount points", ()),
), doc="What `agentkit hook preflight` checks before Install.")

LOG = Section("log", (
    Key("file", abs_path, "an absolute path", DEFAULT_LOG),
), doc="Where the hooks log.")

VERIFY = Section("verify", (
    Key("image", None, json={"type": "string", "minLength": 1},
        doc="--image's default: an image directory or tarball, relative to this file."),
), doc="What `agentkit verify` takes from here when its options do not say.")

NAME = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$", re.IGNORECASE)  # a POSIX user or group name
DEPLOY = Section("deploy", (
    Key("destination", None, json={"type": "string", "pattern": "^/"},
        doc="Where the bundle's files go (required unless `releases:` stages them)."),
    Key("source", None, json={"type": "string"}, doc="The part of the bundle installed."),
    Key("owner", None, json={"type": "string", "pattern": NAME.pattern}),
    Key("group", None, json={"type": "string", "pattern": NAME.pattern}),
    Key("file_mode", None, json={"type": ["string", "integer"], "pattern": "^[0-7]{3}$"}),
    Key("dir_mode", None, json={"type": ["string", "integer"], "pattern": "^[0-7]{3}$"}),
    Key("file_exists_behavior", None, json={"enum": ["DISALLOW", "OVERWRITE", "RETAIN"]}),
    Key("runas", None, json={"type": "string", "pattern": NAME.pattern},
        doc="The user every hook runs as."),
    Key("shim", None, json={"type": "string"}, doc="The hook script every event runs."),
    Key("events", None, json={"type": "object", "propertyNames": {"enum": list(
        events.SCRIPTED)}, "additionalProperties": {"type": "integer", "minimum": 1,
                                                    "maximum": 3600}},
        doc="The events with hooks, and each one's timeout in seconds."),
    Key("scripts", None, json={"type": "object", "additionalProperties": {"anyOf": [
        {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
        doc="The bundle's own scripts per event, run after the shim."),
), doc="What `agentkit appspec generate` writes into appspec.yml.")

TOP = Section("", (
    Key("version", None, json={"const": 1}, doc="Always 1."),
    Key("release", abs_path, "an absolute path",
        doc="The release directory link-shared links into (without `releases:`)."),
    Key("shared", None, section=SHARED),
    Key("permissions", None, json={"type": ["array", "null"],
                                   "items": PERMISSION_RULE.schema()}),
    Key("health", None, section=HEALTH),
    Key("validate", None, section=VALIDATE),
    Key("preflight", None, section=PREFLIGHT),
    Key("events", None, json={"type": "object", "propertyNames": {"enum": list(
        events.SCRIPTED)}, "additionalProperties": {"anyOf": [
            {"enum": list(EVENTS_ACTIONS)},
            {"type": "array", "items": {"enum": list(EVENTS_ACTIONS)}}]}},
        doc="Which actions the hook shim runs in each lifecycle event."),
    Key("log", None, section=LOG),
    Key("releases", None, section=RELEASES),
    Key("deploy", None, section=DEPLOY),
    Key("verify", None, section=VERIFY),
))


def json_schema() -> dict[str, Any]:
    top = TOP.schema()
    top["required"] = ["version"]
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://github.com/agentkit/agentkit/schemas/agentkit-yml.schema.json",
            "title": "agentkit.yml", **top}


if __name__ == "__main__":
    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
