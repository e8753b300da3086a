"""The README documents every rule code the linter can emit."""

from __future__ import annotations

from pathlib import Path

from agentkit.appspec.rules import RULES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_rule_with_its_summary() -> None:
    for rule in RULES.values():
        assert f"| {rule.code} | {rule.severity} | {rule.summary} |" in README


def test_readme_gives_the_two_commands() -> None:
    assert "./dev demo" in README
    assert "./dev test" in README


def test_every_code_the_package_emits_is_a_rule() -> None:
    import re

    package = Path(__file__).resolve().parents[1] / "agentkit"
    used = set()
    for path in package.rglob("*.py"):
        used.update(re.findall(r'"(AK\d{3})"', path.read_text()))
    from agentkit.diagnose.rules import RULES as DIAGNOSES

    diagnoses = {r.code for r in DIAGNOSES}
    assert not diagnoses & set(RULES)  # one namespace of codes: users grep for them
    assert used <= set(RULES) | diagnoses, used - set(RULES) - diagnoses
