"""Load a YAML file (an appspec, agentkit.yml) into PyYAML nodes that keep line/column marks.

PyYAML's SafeLoader resolves plain scalars with the YAML 1.1 rules the Ruby agent's Psych uses,
so the node tags are 1.x's reading; the 2.x reading (YAML 1.2 core schema) is derived from the
raw scalar text in `yaml12`. Nothing here judges the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agentkit.errors import BadInput

__all__ = ["MappingNode", "Node", "ScalarNode", "SequenceNode", "Source", "SyntaxProblem",
           "load_text", "read_source", "scalar_value"]

BOM = "\ufeff"
# What verify reads of an appspec at most (a real one is a few KB): past these it does not
# model the file, and says so (AK106), instead of taking minutes or recursing without end.
MAX_TEXT = 16 << 20
MAX_EVENTS = 100_000
MAX_DEPTH = 500
MAX_EXPANDED = 100_000  # nodes, with every alias written out


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # where the problem is: what we report
    column: int
    problem: str
    context: str
    psych_line: int  # what Psych puts in its message (libyaml's context mark, if any)
    psych_column: int
    undefined_alias: bool = False  # not a syntax error to libyaml: each agent words it itself

    def serde_message(self) -> str:
        """serde_yaml's rendering of the same libyaml error (2.x)."""
        if self.undefined_alias:
            return f"unknown anchor at line {self.line} column {self.column}"
        text = f"{self.problem} at line {self.line} column {self.column}"
        if self.context and (self.psych_line, self.psych_column) != (self.line, self.column):
            text += f", {self.context} at line {self.psych_line} column {self.psych_column}"
        return text

    def psych_message(self) -> str:
        """The text Psych (libyaml) puts in its SyntaxError for the same problem."""
        ctx = f" {self.context}" if self.context else ""
        return (f"(<unknown>): {self.problem}{ctx} "
                f"at line {self.psych_line} column {self.psych_column}")


@dataclass(frozen=True)
class Source:
    path: str
    text: str
    bom: bool
    root: Node | None
    syntax_error: SyntaxProblem | None
    aliases: tuple[tuple[int, int], ...]
    documents: int = 1  # 1.x reads the first; 2.x refuses more than one
    bound: str | None = None  # why verify does not read the file (AK106)
    expands: bool = False  # its aliases expand past MAX_EXPANDED (serde's repetition limit)


# libyaml is the parser inside Psych, so its C binding reproduces the agent's syntax errors
# word for word; the pure-Python parser is the fallback where PyYAML was built without it.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Texts where PyYAML's pure-Python scanner words an error differently from libyaml.
_LIBYAML_PROBLEMS = (
    (re.compile(r"found character '.*' that cannot start any token"),
     "found character that cannot start any token"),
    (re.compile(r"expected <block end>, but found '.*'"), "did not find expected key"),
)


def _problem(exc: yaml.MarkedYAMLError) -> SyntaxProblem:
    # Psych reports libyaml's context mark (where the enclosing construct began) when there is
    # one, and the problem mark otherwise.
    psych_mark = exc.context_mark or exc.problem_mark
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    for pattern, libyaml_text in _LIBYAML_PROBLEMS:
        if pattern.fullmatch(problem):
            problem = libyaml_text
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    pline, pcol = (psych_mark.line + 1, psych_mark.column + 1) if psych_mark else (1, 1)
    return SyntaxProblem(line, column, problem, exc.context or "", pline, pcol,
                         problem.startswith("found undefined alias"))


def _survey(body: str) -> tuple[tuple[tuple[int, int], ...], str | None]:
    """One pass over the parser's events, bounded: where the aliases are, and why the text
    is too big to compose (None: it is not)."""
    aliases: list[tuple[int, int]] = []
    depth = 0
    for count, ev in enumerate(yaml.parse(body, Loader=_Loader), 1):
        if count > MAX_EVENTS:
            return tuple(aliases), f"more than {MAX_EVENTS:,} YAML nodes"
        if isinstance(ev, AliasEvent) and ev.start_mark is not None:
            aliases.append((ev.start_mark.line + 1, ev.start_mark.column + 1))
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return tuple(aliases), f"nested more than {MAX_DEPTH} levels deep"
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return tuple(aliases), None


def _expands(roots: list[Node]) -> bool:
    """Whether the documents, every alias written out, hold more than MAX_EXPANDED nodes
    (a "billion laughs" file: a few lines that expand to 10^9 nodes). Each node is sized
    once, children before parents, without recursion."""
    size: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(r, False) for r in roots]
    while stack:
        node, ready = stack.pop()
        if id(node) in size:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
            continue
        size[id(node)] = total = 1 + sum(size.get(id(c), 0) for c in children)
        if total > MAX_EXPANDED:
            return True
    return False


def _bounded(path: str, body: str, bom: bool, why: str) -> Source:
    return Source(path, body, bom, None, None, (), bound=why)


def load_text(path: str, text: str) -> Source:
    bom = text.startswith(BOM)
    body = text[1:] if bom else text
    if len(body) > MAX_TEXT:
        return _bounded(path, "", bom, f"{len(body):,} characters (more than "
                                       f"{MAX_TEXT >> 20} MiB)")
    try:
        aliases, why = _survey(body)
        if why is not None:
            return _bounded(path, body, bom, why)
        docs = list(yaml.compose_all(body, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        return Source(path, body, bom, None, _problem(exc), ())
    except yaml.YAMLError as exc:
        return Source(path, body, bom, None, SyntaxProblem(1, 1, str(exc), "", 1, 1), ())
    except RecursionError:
        return _bounded(path, body, bom, f"nested more than {MAX_DEPTH} levels deep")
    return Source(path, body, bom, docs[0] if docs else None, None, aliases, len(docs),
                  expands=bool(aliases) and _expands(docs))


def read_source(path: str) -> Source:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TEXT * 4 + 5)  # UTF-8: at most four bytes a character
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the appspec ({exc.strerror}). Check the path and "
                       "its permissions.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: the appspec is not UTF-8 text (byte {exc.start}); "
                       "the agent cannot read it. Save the file as UTF-8.") from exc
    return load_text(path, text)




_CONSTRUCTOR = yaml.SafeLoader("")


class RubySymbol(str):
    """A Psych `:name` plain scalar: a Symbol, whose to_s drops the colon."""


# Where Psych's ScalarScanner (lib/psych/scalar_scanner.rb) types plain scalars differently from
# PyYAML's YAML 1.1 resolver: booleans and null in any case, integers with commas, :symbols.
_PSYCH_TRUE = re.compile(r"(?i:yes|true|on)")
_PSYCH_FALSE = re.compile(r"(?i:no|false|off)")
_PSYCH_NULL = re.compile(r"~|(?i:null)")
_PSYCH_LEGACY_INT = re.compile(r"[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)")


def _psych_plain(text: str) -> tuple[bool, Any]:
    if _PSYCH_TRUE.fullmatch(text):
        return True, True
    if _PSYCH_FALSE.fullmatch(text):
        return True, False
    if _PSYCH_NULL.fullmatch(text):
        return True, None
    if "," in text and _PSYCH_LEGACY_INT.fullmatch(text):
        return True, int(text.replace(",", "").replace("_", ""))
    if len(text) > 1 and text.startswith(":") and not text.startswith("::"):
        return True, RubySymbol(text[1:])
    return False, None


def is_date(node: ScalarNode) -> bool:
    """A plain scalar Psych would turn into a Date/Time (refused by Psych 4's safe load)."""
    return not node.style and node.tag == "tag:yaml.org,2002:timestamp"


def scalar_value(node: ScalarNode) -> Any:
    """The YAML 1.1 value of a scalar, as Psych would give it to the agent."""
    if (not node.style and node.tag == "tag:yaml.org,2002:str") or node.tag in (
            "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
        known, value = _psych_plain(node.value)
        if known:
            return value
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError:
        return node.value  # an application tag such as !Ref: Psych keeps the text

