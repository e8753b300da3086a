"""The generated documentation pages: one per finding code (docs/rules/AKNNN.md, also what
`agentkit rule` prints) and the agentkit.yml reference, built from the rules data and the
config reader so that they cannot drift from the code (`python -m agentkit.docs` writes them;
tests/docs/pages_test.py checks the committed ones are current)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agentkit.appspec import rules as appspec_rules
from agentkit.diagnose import rules as diagnose_rules
from agentkit.docs.examples import EXAMPLES, Example
from agentkit.findings import ERROR
from agentkit.yamlconf.agentkit_yml import TOP
from agentkit.yamlconf.descriptions import DESCRIPTIONS
from agentkit.yamlconf.schema import LISTS, Section

RULES_DIR = "docs/rules"
CONFIG_PAGE = "docs/reference/agentkit-yml.md"


def rule_codes() -> tuple[str, ...]:
    codes = [*appspec_rules.RULES, *(r.code for r in diagnose_rules.RULES)]
    return tuple(sorted(codes))


def _placeholders(text: str) -> str:
    """`{command}` of a template as COMMAND: the finding fills it in."""
    return re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), text)


def _example(example: Example | None) -> list[str]:
    if example is None:
        return []
    out = ["## Example", ""]
    if example.note:
        out += [example.note, ""]
    out += ["In an empty directory:", ""]
    for f in example.files:
        if f.link:
            out += [f"`{f.path}`: a symbolic link to `{f.text}`", ""]
            continue
        mode = "" if f.mode == 0o644 else f" (mode {f.mode:03o})"
        fence = "yaml" if f.path.endswith((".yml", ".yaml")) else (
            "bash" if f.path.endswith(".sh") else "python" if f.path.endswith(".py") else "text")
        shown = f.text.replace("\ufeff", "\\ufeff").replace("\r", "\\r")
        note = ""
        if shown != f.text:
            note = " (written with the escapes below as the bytes they name)"
        out += [f"`{f.path}`{mode}{note}:", "", f"```{fence}", shown.rstrip("\n"), "```", ""]
    out += ["```console", *(f"$ {line}" for line in example.setup),
            f"$ agentkit {' '.join(example.command)}", "```", "",
            f"**Fix:** {example.fix}", ""]
    return out


def _appspec_page(rule: appspec_rules.Rule) -> list[str]:
    fix = ("the finding's message says what to change for the value it found"
           if rule.hint == "{fix}" else _placeholders(rule.hint))
    out = [f"# {rule.code}: {rule.name}", "",
           f"**Severity:** {rule.severity} · **Reported by:** {_reporters(rule.code)}", "",
           rule.summary[0].upper() + rule.summary[1:] + ".", "",
           "## Fix", "", fix[0].upper() + fix[1:] + ".", ""]
    said = [(gen, text) for gen, text in (("1.x", rule.agent1), ("2.x", rule.agent2))
            if text and not re.fullmatch(r"\{\w+\}", text)]
    if said:
        out += ["## What the agent says", ""]
        out += [f"- agent {gen}: {_placeholders(text)}" for gen, text in said]
        out += [""]
    elif rule.agent1 is None and rule.agent2 is None and rule.severity == ERROR:
        out += ["The agent itself says nothing about it in advance: the deployment fails "
                "(or does harm) on the instance.", ""]
    return out


def _reporters(code: str) -> str:
    """Which commands check what a code is about (the ranges of agentkit/appspec/rules.py)."""
    if code in ("AK152", "AK515"):  # met only where verify models the agent (lifecycle.py)
        return "`agentkit verify`"
    if code.startswith("AK4"):
        return "`agentkit verify` (the archive, as DownloadBundle reads it)"
    if code.startswith("AK5"):
        return "`agentkit lint` of a bundle directory, and `agentkit verify`"
    if code.startswith("AK6"):
        return "`agentkit lint` of a bundle directory with agentkit.yml beside the appspec"
    if code.startswith("AK7"):
        return "`agentkit verify` (what the hooks did to services in its box)"
    return "`agentkit lint` (of an appspec or a bundle directory) and `agentkit verify`"


def _diagnosis_page(rule: diagnose_rules.Rule) -> list[str]:
    where = ("`agentkit explain`" if rule.deployment else
             "`agentkit verify`" if rule.in_verify else
             "`agentkit explain`" if rule.in_verify is False else
             "`agentkit verify` and `agentkit explain`")
    out = [f"# {rule.code}: {rule.name}", "",
           f"**Diagnosis of a failed deployment** · **Reported by:** {where}", ""]
    if rule.events:
        out += [f"Seen in: {', '.join(rule.events)}.", ""]
    out += ["## Cause", "", _placeholders(rule.cause), "", "## Fix", "",
            _placeholders(rule.fix), ""]
    return out


def rule_page(code: str) -> str:
    if code in appspec_rules.RULES:
        lines = _appspec_page(appspec_rules.RULES[code])
    else:
        (rule,) = [r for r in diagnose_rules.RULES if r.code == code]
        lines = _diagnosis_page(rule)
    lines += _example(EXAMPLES.get(code))
    if code == "AK600":  # the keys, in the terminal too (`agentkit rule AK600`)
        lines += ["## The keys", "", ", ".join(f"`{k}`" for k in config_keys()), "",
                  "What each takes and its default: [the agentkit.yml reference]"
                  "(../reference/agentkit-yml.md).", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def rules_index() -> str:
    lines = ["# Finding codes", "",
             "Every code lint, verify and explain report, with its own page: what it means, "
             "an example that triggers it and the fix. `agentkit rule CODE` prints the same "
             "page in a terminal. AK1xx-AK3xx are about the appspec, AK4xx the archive, "
             "AK5xx the bundle's files, AK6xx agentkit.yml, AK7xx services, AK8xx the "
             "diagnoses of a failed deployment ([troubleshooting](../troubleshooting.md)).",
             "", "| Code | Severity | Summary |", "| --- | --- | --- |"]
    for code in rule_codes():
        if code in appspec_rules.RULES:
            r = appspec_rules.RULES[code]
            severity, summary = r.severity, r.summary
        else:
            d = next(x for x in diagnose_rules.RULES if x.code == code)
            severity, summary = "diagnosis", d.name.replace("-", " ")
        lines.append(f"| [{code}]({code}.md) | {severity} | {summary.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


# --- agentkit.yml -------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    path: str
    expected: str = ""  # what the reader says it expects, in its own words
    default: str = ""
    required: bool = False


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) and value.endswith("\n") else str(value)


def _walk(section: Section, path: str, found: dict[str, Key]) -> None:
    for key in section.keys:
        here = f"{path}.{key.name}" if path else key.name
        default = "" if key.default in (None, ()) else _shown(key.default)
        found[here] = Key(here, key.expected, default, key.required is not None)
        if key.section is not None:
            _walk(key.section, f"{here}[]" if key.name in LISTS else here, found)


def config_keys() -> dict[str, Key]:
    """Every key of agentkit.yml, from its sections as data (yamlconf/agentkit_yml.py), the
    tables the hooks, `appspec generate` and `verify` read them with."""
    found: dict[str, Key] = {}
    _walk(TOP, "", found)
    found["events.EVENT"] = Key("events.EVENT", "a list of actions")
    return found


def config_page() -> str:
    keys = config_keys()
    lines = ["# agentkit.yml reference", "",
             "agentkit.yml sits next to appspec.yml in the bundle. `agentkit hook` reads its "
             "sections on the instance, `agentkit appspec generate` its `deploy:` and "
             "`agentkit verify` its `verify:`; `agentkit lint` checks it with the appspec "
             "([AK600](../rules/AK600.md)). Every problem is reported at once with its line: "
             "`agentkit.yml:5: shared > on_conflict: expected one of backup, seed, fail, got "
             "'move'`.", "",
             "This page is generated from the readers themselves (`python -m agentkit.docs`).",
             ""]
    sections = [k for k in keys if "." not in k and "[" not in k]
    for section in sections:
        lines += [f"## `{section}`", "", DESCRIPTIONS.get(section, ""), ""]
        children = [k for k in keys if k.startswith((f"{section}.", f"{section}[]."))]
        if keys[section].expected and not children:
            lines += [_row_text(keys[section]), ""]
        if children:
            lines += ["| Key | Takes | Default | What it is |", "| --- | --- | --- | --- |"]
            for child in children:
                k = keys[child]
                takes = k.expected.replace("|", "/") + (" (required)" if k.required else "")
                default = k.default.replace("\n", "\\n").replace("|", "/")
                lines.append(f"| `{child}` | {takes} | {f'`{default}`' if default else ''} | "
                             f"{DESCRIPTIONS.get(child, '')} |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _row_text(key: Key) -> str:
    text = f"Takes {key.expected}"
    if key.default:
        text += f"; default `{key.default}`"
    return text + (" (required)." if key.required else ".")


def generated() -> dict[str, str]:
    """Each generated page by its path in the repository."""
    pages = {f"{RULES_DIR}/{code}.md": rule_page(code) for code in rule_codes()}
    pages[f"{RULES_DIR}/index.md"] = rules_index()
    pages[CONFIG_PAGE] = config_page()
    return pages
