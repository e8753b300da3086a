"""The README is a front page: the two commands first, links to the docs, which document every
code the package emits."""

from __future__ import annotations

from pathlib import Path

from agentkit.appspec.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_rules_index_lists_every_rule_with_its_summary() -> None:
    index = (ROOT / "docs" / "rules" / "index.md").read_text()
    assert "(docs/rules/index.md)" in README
    for rule in RULES.values():
        assert f"| [{rule.code}]({rule.code}.md) | {rule.severity} | {rule.summary} |" in index


def test_readme_gives_the_two_commands_first() -> None:
    first_code = README.index("```sh\n")
    assert README.index("./dev demo", first_code) < README.index("./dev test", first_code)
    assert README.count("```") >= 2 and README.index("```") == first_code


def test_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 300


def test_readme_links_to_docs_that_exist() -> None:
    import re

    links = re.findall(r"\]\((docs/[^)#]+)", README)
    assert len(links) > 10
    assert [link for link in links if not (ROOT / link).is_file()] == []


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
