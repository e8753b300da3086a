"""The 150 real appspec files of tests/data/appspec-corpus against the real agent's verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentkit.commands.lint import lint_path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "appspec-corpus"
VERDICTS: list[dict[str, Any]] = json.loads(
    (CORPUS / "agent_verdicts.json").read_text(encoding="utf-8"))


def test_corpus_has_all_files() -> None:
    assert len(VERDICTS) == 150
    names = sorted(p.name for p in (CORPUS / "files").iterdir())
    assert names == sorted(v["file"] for v in VERDICTS)
    assert sorted(_notes()) == [name[:3] for name in names]
    assert sum(v["verdict"] == "rejected" for v in VERDICTS) == 9


@pytest.mark.parametrize("verdict", VERDICTS, ids=[v["file"][:3] for v in VERDICTS])
def test_corpus_file_verdict_matches_agent(verdict: dict[str, Any]) -> None:
    result = lint_path(str(CORPUS / "files" / verdict["file"]), "1")
    assert result.agent_verdict == verdict["verdict"]
    errors = [f for f in result.findings if f.is_error]
    if verdict["verdict"] == "rejected":
        # The agent stops at its first error: ours, in the agent's order, says the same words.
        assert result.agent_error == verdict["message"]
        assert any(f.agent_message == verdict["message"] for f in errors)
    unknown = verdict.get("unknown_events") or []
    flagged = [f for f in errors if f.code == "AK132"]
    assert len(flagged) == len(unknown)
    for f, name in zip(flagged, unknown):
        assert f.message.startswith(f"hooks > {name}: not a lifecycle event")
    if verdict["verdict"] == "accepted" and not unknown:
        assert errors == []


def _notes() -> dict[str, str]:
    rows = (CORPUS / "INDEX.tsv").read_text().splitlines()[1:]
    return {r.split("\t")[0]: r.split("\t")[-1] for r in rows}


@pytest.mark.parametrize(("note", "code"), [
    ("mode 0644 written with leading zero", "AK200"),
    ("overwrite: true in files", "AK204"),
    ("British spelling file_exists_behaviour", "AK204"),
    ("uses reserved 'Install' event as a hook", "AK205"),
    ("timeout>3600", "AK206"),
    ("runas on Windows", "AK208"),
    ("destination is a file path ending in .jar", "AK209"),
    ("glob in source", "AK211"),
    ("looks like a command", "AK213"),
    ("location with leading slash", "AK214"),
    ("destination is a LIST", "AK215"),
    ("two 'permissions:' keys", "AK202"),
    ("dedented to top level", "AK203"),
    ("os typo 'linus'", "AK111"),
    ("non-EC2/invalid hook names AfterIntall", "AK132"),
])
def test_corpus_oddity_gets_its_finding(note: str, code: str) -> None:
    ids = [i for i, text in _notes().items() if note in text]
    assert ids, note
    for ident in ids:
        verdict = next(v for v in VERDICTS if v["file"].startswith(ident))
        result = lint_path(str(CORPUS / "files" / verdict["file"]), "1")
        assert code in {f.code for f in result.findings}, (ident, note)


@pytest.mark.parametrize("verdict", VERDICTS, ids=[v["file"][:3] for v in VERDICTS])
def test_corpus_file_agent2_never_crashes(verdict: dict[str, Any]) -> None:
    result = lint_path(str(CORPUS / "files" / verdict["file"]), "2")
    assert result.agent_verdict in ("accepted", "rejected")
    assert all(f.message for f in result.findings)


@pytest.mark.parametrize("verdict", VERDICTS[::3], ids=[v["file"][:3] for v in VERDICTS[::3]])
def test_corpus_truncated_files_never_crash(verdict: dict[str, Any]) -> None:
    from agentkit.appspec.check import lint_source
    from agentkit.yamlconf.source import load_text

    text = (CORPUS / "files" / verdict["file"]).read_text(encoding="utf-8")
    for cut in range(0, len(text), max(len(text) // 12, 1)):
        for generation in ("1", "2"):
            result = lint_source(load_text("appspec.yml", text[:cut]), generation)
            assert result.agent_verdict in ("accepted", "rejected")
