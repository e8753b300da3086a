"""The generated pages: current in the repository, every example real, every key described,
and `agentkit rule` printing them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main
from agentkit.docs import pages
from agentkit.docs.examples import EXAMPLES
from agentkit.yamlconf.descriptions import DESCRIPTIONS

from ..unprivileged import run_cli

ROOT = Path(__file__).resolve().parents[2]
FILE = re.compile(r"^`(?P<path>[^`]+)`(?: \(mode (?P<mode>[0-7]+)\))?(?P<escaped> \(written "
                  r"with the escapes[^)]*\))?:\n\n```\w*\n(?P<text>.*?)\n```\n", re.M | re.S)
LINK = re.compile(r"^`(?P<path>[^`]+)`: a symbolic link to `(?P<target>[^`]+)`$", re.M)
COMMAND = re.compile(r"^\$ agentkit (?P<args>.+)$", re.M)
SETUP = re.compile(r"^\$ (?!agentkit )(?P<line>.+)$", re.M)  # what makes the example's archive


@pytest.mark.parametrize("rel", sorted(pages.generated()))
def test_pages_committed_page_is_current(rel: str) -> None:
    # a stale page: run `python -m agentkit.docs` and commit what it writes
    assert (ROOT / rel).read_text(encoding="utf-8") == pages.generated()[rel]


def test_pages_every_code_has_a_page() -> None:
    codes = {p.stem for p in (ROOT / "docs" / "rules").glob("AK*.md")}
    assert codes == set(pages.rule_codes())


def test_pages_every_code_has_a_runnable_example() -> None:
    # a new code comes with its example (agentkit/docs/examples.py), run below
    assert sorted(set(pages.rule_codes()) - set(EXAMPLES)) == []
    assert set(EXAMPLES) <= set(pages.rule_codes())


def _codes(document: Any) -> set[str]:
    if isinstance(document, dict):
        found = {document["code"]} if isinstance(document.get("code"), str) else set()
        return found.union(*(_codes(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(_codes(v) for v in document))
    return set()


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_pages_example_on_the_page_reports_its_code(
        code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    page = (ROOT / "docs" / "rules" / f"{code}.md").read_text(encoding="utf-8")
    example = page[page.index("## Example"):]
    files = list(FILE.finditer(example))
    assert files or LINK.search(example), "the example shows no file"
    for link in LINK.finditer(example):
        path = tmp_path / link["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(link["target"])
    for f in files:
        text = f["text"] + "\n"
        if f["escaped"]:
            text = text.replace("\\ufeff", "\ufeff").replace("\\r", "\r")
        path = tmp_path / f["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        path.chmod(int(f["mode"] or "644", 8))
    for line in SETUP.findall(example):  # as a user pastes them, in bash
        done = subprocess.run(["bash", "-euc", line], cwd=tmp_path, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, f"{line}: {done.stderr}"
    (command,) = COMMAND.findall(example)
    if command.startswith("verify"):
        from agentkit.verify import hookbox

        if hookbox.unavailable():
            pytest.skip(f"the example's hooks need verify's box: {hookbox.unavailable()}")
    monkeypatch.chdir(tmp_path)
    if command.startswith("lint"):
        # as a user whom file modes bind (AK508's unreadable script), even when root runs this
        _, out, _ = run_cli([*command.split(), "--format", "json"])
    else:
        main([*command.split(), "--format", "json"])
        out = capsys.readouterr().out
    assert code in _codes(json.loads(out)), out


def test_pages_every_config_key_is_described() -> None:
    assert set(pages.config_keys()) == set(DESCRIPTIONS)


def test_rule_prints_the_codes_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "AK515"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "rules" / "AK515.md").read_text()


def test_rule_takes_the_number_alone_and_lower_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "ak800"]) == 0
    assert capsys.readouterr().out.startswith("# AK800: command-not-found\n")
    assert main(["rule", "504"]) == 0
    assert capsys.readouterr().out.startswith("# AK504: script-crlf\n")


def test_rule_unknown_code_exits_1_with_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "AK999"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", (
        "agentkit rule: 'AK999' is not a finding code. Codes are AK followed by three digits, "
        "as lint, verify and explain print them (e.g. AK515); the known ones run from AK100 "
        f"to {max(pages.rule_codes())} and each has a page under docs/rules/.\n"))
