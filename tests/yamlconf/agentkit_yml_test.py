"""agentkit.yml's schema as data: the JSON Schema editors use is written from the same keys the
hooks, `appspec generate` and `verify` read, and agrees with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.hooks import config
from agentkit.yamlconf.agentkit_yml import HEALTH, SHARED, TOP, json_schema
from agentkit.yamlconf.descriptions import DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "agentkit-yml.schema.json"


def test_agentkit_yml_committed_schema_is_current() -> None:
    # regenerate with: python -m agentkit.yamlconf.agentkit_yml > schemas/agentkit-yml.schema.json
    assert json.loads(COMMITTED.read_text()) == json_schema()
    jsonschema.Draft7Validator.check_schema(json_schema())


@pytest.mark.parametrize("example", sorted(ROOT.glob("examples/*/agentkit.yml")),
                         ids=lambda p: p.parent.name)
def test_agentkit_yml_examples_pass_the_schema_and_the_hooks(example: Path) -> None:
    errors = list(jsonschema.Draft7Validator(json_schema()).iter_errors(
        yaml.safe_load(example.read_text())))
    assert [e.message for e in errors] == []
    assert config.check(str(example)).problems == ()


def test_agentkit_yml_top_keys_are_the_sections_the_readers_know() -> None:
    assert TOP.names() == ("version", "release", "shared", "permissions", "health",
                           "validate", "preflight", "events", "log", "releases", "deploy",
                           "verify")
    assert json_schema()["properties"]["health"]["properties"]["drain"]["properties"][
        "interval"] == {"type": "number", "minimum": 0, "default": 30.0,
                        "description": DESCRIPTIONS["health.drain.interval"]}
    assert json_schema()["properties"]["permissions"]["items"]["required"] == ["path"]


_ENUM_KEYS = {k.name: k.conv.json["enum"] for k in SHARED.keys  # type: ignore[union-attr]
              if k.conv is not None and "enum" in k.conv.json}
_WORDS = st.sampled_from(sorted({w for ws in _ENUM_KEYS.values() for w in ws}
                                | {"", "Backup", "move", "nfs3", "yes"}))


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from(sorted(_ENUM_KEYS)), _WORDS, max_size=4),
       root=st.sampled_from(["/mnt/efs/app", "mnt/efs", "/"]))
def test_agentkit_yml_schema_and_hooks_agree_on_shared_choices(
        tmp_path_factory: pytest.TempPathFactory, values: dict[str, str], root: str) -> None:
    doc: dict[str, Any] = {"version": 1, "release": "/srv/app/current",
                           "shared": {"root": root, **values}}
    path = tmp_path_factory.mktemp("cfg") / "agentkit.yml"
    path.write_text(yaml.safe_dump(doc))
    schema_ok = jsonschema.Draft7Validator(json_schema()).is_valid(doc)
    hooks_ok = config.check(str(path)).problems == ()
    assert schema_ok == hooks_ok, (doc, config.check(str(path)).problems)


def test_agentkit_yml_health_drain_defaults_when_absent(tmp_path: Path) -> None:
    path = tmp_path / "agentkit.yml"
    path.write_text("version: 1\nhealth:\n  file: /var/www/health.html\n")
    cfg = config.load(str(path))
    assert cfg.health == config.Health("/var/www/health.html")
    assert [k.name for k in HEALTH.keys] == ["file", "drain", "content", "owner", "group"]
