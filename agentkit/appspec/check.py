"""Lint one appspec: the selected agent's verdict, every error, every warning, portability."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentkit import events
from agentkit.appspec import agent1, agent2, lints, ruby
from agentkit.appspec.model import AgentError, AppSpec, Evaluation
from agentkit.appspec.rules import RULES
from agentkit.findings import ERROR, WARNING, Finding
from agentkit.yamlconf.source import MAX_EXPANDED, MappingNode, Node, Source
from agentkit.yamlconf.view import MapView, chain, value11

EVALUATORS = {"1": agent1.evaluate, "2": agent2.evaluate}


@dataclass(frozen=True)
class LintResult:
    path: str
    generation: str
    agent_verdict: str  # accepted, rejected (what the agent's parser says), unknown (AK106)
    agent_error: str | None  # the message of the first error the agent meets
    findings: tuple[Finding, ...]
    appspec: AppSpec | None

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(not f.is_error for f in self.findings)


def _finding(path: str, err: AgentError) -> Finding:
    rule = RULES[err.code]
    where = chain(err.path)
    message = f"{where}: {err.detail}" if where else err.detail
    return Finding(ERROR, err.code, path, err.line, err.column, message,
                   err.hint or rule.hint, err.agent_message)


def _syntax(src: Source, generation: str) -> LintResult:
    problem = src.syntax_error
    assert problem is not None
    ctx = f" ({problem.context})" if problem.context else ""
    serde = f"The deployment failed because of a YAML parsing error: {problem.serde_message()}"
    message = problem.psych_message() if generation == "1" else serde
    code, detail = "AK100", f"YAML syntax: {problem.problem}{ctx}"
    if problem.undefined_alias:
        # Psych 4 refuses every alias before it looks the anchor up (1.x); serde says
        # "unknown anchor" (2.x).
        code, detail = ("AK103" if generation == "1" else "AK100"), "an alias (`*name`) whose " \
            "anchor (`&name`) is not defined above it"
        if generation == "1":
            message = RULES["AK103"].agent_message("1", {}) or ""
    finding = Finding(ERROR, code, src.path, problem.line, problem.column, detail,
                      RULES[code].hint, message)
    return LintResult(src.path, generation, "rejected", message, (finding,), None)


def _unknown_events(src: Source, generation: str, custom: tuple[str, ...]) -> list[Finding]:
    root = src.root
    if not isinstance(root, MappingNode):
        return []
    hooks = MapView(root).get("hooks")
    if not isinstance(hooks, MappingNode):
        return []
    # 1.x stores every hook whose value is not nil/false, `[]` included (command_executor.rb);
    # 2.x drops empty hooks before its check (appspec_validator.rs).
    def counted(node: Node) -> bool:
        value = value11(node)
        if generation == "2":
            return isinstance(value, list) and bool(value)
        return value is not None and value is not False

    unknown = [e for e in MapView(hooks).entries()
               if ruby.to_s(e.key) not in (*events.ORDERED, *custom) and counted(e.value)]
    names = [ruby.to_s(e.key) for e in unknown]
    base = os.path.basename(src.path) if src.path.endswith((".yml", ".yaml")) else "appspec.yml"
    message = RULES["AK132"].agent_message(generation, {
        "events_ruby": ruby.inspect(names), "events_plain": ", ".join(names)})
    message = message.replace("appspec.yml", base, 1) if message else message
    out = []
    for entry, name in zip(unknown, names):
        guess = events.suggest(name)
        if name in events.SERVICE_ONLY:
            fix = f"use Before{name} or After{name}: {name} itself runs no scripts"
        elif guess:
            fix = f"did you mean {guess}?"
        else:
            fix = f"use one of {', '.join(events.SCRIPTED)}"
        line, col = entry.key_node.start_mark.line + 1, entry.key_node.start_mark.column + 1
        out.append(Finding(ERROR, "AK132", src.path, line, col,
                           f"hooks > {name}: not a lifecycle event; the agent never runs it"
                           + (f" (did you mean {guess}?)" if guess else ""), fix, message))
    return out


def _portability(path: str, ev1: Evaluation, ev2: Evaluation) -> list[Finding]:
    out = []
    for key in sorted(set(ev1.readings) | set(ev2.readings), key=str):
        r1, r2 = ev1.readings.get(key), ev2.readings.get(key)
        # A construct one generation never reached counts as accepted by it.
        how1 = r1[2] if r1 else "accepted"
        how2 = r2[2] if r2 else "accepted"
        rejected = (how1.startswith("rejected"), how2.startswith("rejected"))
        if how1 == how2 or all(rejected) or (not (r1 and r2) and not any(rejected)):
            continue
        line, col, _ = r1 or r2  # type: ignore[misc]
        where = chain(key).replace("<aliases>", "YAML aliases")
        out.append(Finding(WARNING, "AK300", path, line, col,
                           f"{where}: agent 1.x: {how1}; agent 2.x: {how2}",
                           "write it so both generations read it the same way before "
                           "upgrading or mixing agents", None))
    return out


def _bound(src: Source, generation: str) -> LintResult:
    """A file verify does not read (AK106), or one whose aliases expand past what it will
    write out: agent 1.x refuses any alias (AK103); serde_yaml (2.x) stops expanding them at
    its repetition limit (de.rs: jumpcount > 100 x events)."""
    if src.bound is not None:
        finding = Finding(ERROR, "AK106", src.path, None, None,
                          f"verify does not read this appspec: {src.bound}",
                          RULES["AK106"].hint, None)
        return LintResult(src.path, generation, "unknown", None, (finding,), None)
    line, col = src.aliases[0]
    if generation == "1":
        message = RULES["AK103"].agent_message("1", {}) or ""
        finding = Finding(ERROR, "AK103", src.path, line, col, "YAML aliases are refused by "
                          "agent 1.x (Psych 4); these expand to more than "
                          f"{MAX_EXPANDED:,} nodes", RULES["AK103"].hint, message)
    else:
        message = "The deployment failed because of a YAML parsing error: repetition limit " \
                  "exceeded"
        finding = Finding(ERROR, "AK100", src.path, line, col, "YAML aliases that expand to "
                          f"more than {MAX_EXPANDED:,} nodes (a \"billion laughs\")",
                          RULES["AK103"].hint, message)
    return LintResult(src.path, generation, "rejected", message, (finding,), None)


def lint_source(src: Source, generation: str = "1", platform: str = "any",
                custom_events: tuple[str, ...] = ()) -> LintResult:
    """`platform`: "linux" when the file is judged for a Linux instance (verify), "any" for
    lint, which accepts `os: windows` and checks Windows paths then. `custom_events`: names
    codedeploy-local was given with --events, which are then not unknown."""
    if src.syntax_error is not None:
        return _syntax(src, generation)
    if src.bound is not None or src.expands:
        return _bound(src, generation)
    evals = {g: fn(src, platform) for g, fn in EVALUATORS.items()}
    chosen = evals[generation]
    findings = [_finding(src.path, e) for e in chosen.errors]
    findings += _unknown_events(src, generation, custom_events)
    fatal_dups = {(e.line, e.column) for e in chosen.errors if e.code == "AK104"}
    for w in lints.check(src, platform):
        if w.code == "AK202" and (w.line, w.column) in fatal_dups:
            continue
        rule = RULES[w.code]
        where = chain(w.path)
        findings.append(Finding(WARNING, w.code, src.path, w.line, w.column,
                                f"{where}: {w.detail}" if where else w.detail,
                                w.hint or rule.hint, None))
    findings += _portability(src.path, evals["1"], evals["2"])
    first = chosen.first_error
    return LintResult(src.path, generation, "rejected" if first else "accepted",
                      first.agent_message if first else None,
                      tuple(sorted(findings, key=Finding.sort_key)), chosen.appspec)

