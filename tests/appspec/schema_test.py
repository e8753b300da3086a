"""appspec/appspec.schema.json: current, valid, and in agreement with the linter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from agentkit.appspec import schema
from agentkit.commands.lint import lint_path
from agentkit.yamlconf.view import chain

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "appspec-corpus"
FILES = sorted((CORPUS / "files").iterdir())
AGENT = {v["file"]: v["verdict"]
         for v in json.loads((CORPUS / "agent_verdicts.json").read_text(encoding="utf-8"))}
VALIDATOR = jsonschema.Draft7Validator(schema.json_schema())


def test_schema_file_is_generated_from_rules() -> None:
    committed = (ROOT / "appspec" / "appspec.schema.json").read_text()
    assert committed == schema.render(), "run: python -m agentkit.appspec.schema > " \
                                         "appspec/appspec.schema.json"


def test_schema_is_valid_draft7() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(schema.render()))


@pytest.mark.parametrize(("text", "valid"), [
    ("version: 0.0\nos: linux\n", True),
    ('version: "0.0"\nos: linux\n', False),
    ("version: 0.0\nos: Linux\n", False),
    ("version: 0.0\nos: linux\nhooks:\n  AfterInstall: a.sh\n", False),
    ("version: 0.0\nos: linux\nhooks:\n  AfterInstal:\n    - location: a.sh\n", False),
    ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      sudo: true\n",
     True),
    ("version: 0.0\nos: linux\npermissions:\n  - object: /a\n    type: file\n", False),
    ("version: 0.0\nos: linux\npermissions:\n  - object: /a\n    type: [file]\n    mode: '644'\n"
     "    except: [x]\n    acls: ['u:bob:rwx']\n    context: {type: t, range: s0}\n", True),
    ("version: 0.0\nos: linux\nfiles:\n  source: /\n", False),
])
def test_schema_judges_like_the_linter(text: str, valid: bool) -> None:
    assert VALIDATOR.is_valid(yaml.safe_load(text)) is valid


# Every code the linter gives on the corpus, by whether the schema sees the same problem. The
# schema knows names and shapes, not the host, the platform or what a value means.
SCHEMA_SEES = {
    "AK102": "a section of the wrong shape: the section's type",
    "AK110": "a version other than the number 0.0: type and enum of `version`",
    "AK111": "an os other than linux or windows: enum of `os`",
    "AK120": "a files entry without source: required",
    "AK130": "a script without location: required, or the type of a null location",
    "AK132": "an event name that is no event: propertyNames of `hooks`",
    "AK140": "a permission without object: required, or the type of a null object",
    "AK203": "an event at the top level: an unknown top-level key",
    "AK204": "a key the agent does not read: additionalProperties is false everywhere",
    "AK205": "scripts under Install, which runs none: Install is not a scripted event",
    "AK207": "an empty or null runas: runas is text of one character or more",
    "AK215": "a destination that is not one path: its type is string",
}
SCHEMA_BLIND = {
    "AK200": "0644 is a valid octal mode; that YAML 1.1 reads it as 420 is past a schema",
    "AK202": "a duplicate key is gone once the YAML is loaded",
    "AK206": "a sum over an event's timeouts",
    "AK208": "runas is valid text; that Windows ignores it depends on `os`",
    "AK209": "a destination that looks like a file name is still a path",
    "AK210": "a relative destination is still a path",
    "AK211": "glob characters in a source are valid text",
    "AK213": "a location that looks like a command is valid text",
    "AK214": "a location with a leading slash is valid text",
    "AK300": "agent 1.x and 2.x reading a valid value differently",
}
# Keys the schema rejects and the linter does not name, each in an entry the linter rejects
# for another key (checked below). 015: the agent raises at a files entry's missing `source`
# and never looks for its `destination`. 045 (a template with every value left empty): the
# agent raises at each entry's empty source, object or location before it reads the rest, and
# reads a null timeout as none given (3600 s); the schema wants their types.
_EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
           "ValidateService")
SCHEMA_ONLY: dict[str, set[str]] = {
    "015": {"files[0] > destination"},
    "045": {f"files[{i}] > destination" for i in (0, 1)}
    | {f"permissions[0] > {key}" for key in ("pattern", "except", "type[0]", "owner", "group",
                                              "mode", "acls[0]", "context > type",
                                              "context > range")}
    | {f"hooks > {event}[{i}] > timeout" for event in _EVENTS for i in (0, 1)},
}


def _keys(error: jsonschema.ValidationError) -> set[str]:
    """The keys a schema error is about, written as the linter writes them."""
    at = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        return {chain((*at, key)) for key in error.instance if key not in known}
    if error.validator == "required":
        return {chain((*at, key)) for key in error.validator_value if key not in error.instance}
    if "propertyNames" in error.absolute_schema_path:
        return {chain((*at, error.instance))}
    return {chain(at)}


def _entry(key: str) -> str:
    """The entry a key is in: `hooks > AfterInstall[0]` for `hooks > AfterInstall[0] > runas`."""
    match = re.match(r"[^\[]*\[\d+\]", key)
    return match.group(0) if match else key


@pytest.mark.parametrize("path", FILES, ids=[p.name[:3] for p in FILES])
def test_schema_agrees_with_linter_on_corpus(path: Path) -> None:
    result = lint_path(str(path), "1")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        assert (result.agent_verdict, AGENT[path.name]) == ("rejected", "rejected")
        return
    codes = {f.code for f in result.findings}
    assert codes - set(SCHEMA_SEES) - set(SCHEMA_BLIND) == set(), "classify the new codes"
    flagged = {f.message.split(": ", 1)[0] for f in result.findings if f.code in SCHEMA_SEES}
    errors = list(VALIDATOR.iter_errors(data))
    found = set().union(*(_keys(e) for e in errors))
    assert (flagged - found, found - flagged) == (set(), SCHEMA_ONLY.get(path.name[:3], set()))
    assert {_entry(k) for k in found} == {_entry(k) for k in flagged}
    if not errors:  # what the schema passes, the agent accepts
        assert AGENT[path.name] == "accepted"

