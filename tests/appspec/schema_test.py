"""appspec/appspec.schema.json: current, valid, and in agreement with the linter."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from agentkit.appspec import schema
from agentkit.commands.lint import lint_path

from ..conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED / "appspec-corpus" / "files"
FILES = sorted(CORPUS.iterdir()) if CORPUS.is_dir() else []
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


@pytest.mark.skipif(not FILES, reason="../shared/appspec-corpus is not beside this checkout")
@pytest.mark.parametrize("path", FILES, ids=[p.name[:3] for p in FILES])
def test_schema_agrees_with_linter_on_corpus(path: Path) -> None:
    result = lint_path(str(path), "1")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        assert result.agent_verdict == "rejected"
        return
    if not result.findings:
        assert VALIDATOR.is_valid(data), list(VALIDATOR.iter_errors(data))
    if any(f.is_error and f.code != "AK150" for f in result.findings):
        assert not VALIDATOR.is_valid(data)
