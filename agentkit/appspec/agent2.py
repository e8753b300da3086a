"""The appspec as the Rust agent 2.x parses it (read from source, not run).

src/application_specification/types.rs deserializes the whole file with serde_yaml 0.9 into
typed structs (parse.rs RawAppSpec/RawScript/RawPermission) before any semantic check, so every
type mismatch or repeated field is a "YAML parsing error" met in document order; then
RawAppSpec::validate checks version, os, file_exists_behavior, hooks, files, permissions on
Windows, and each permission (object, type, mode.rs, acl.rs, selinux.rs). Messages: error.rs.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from agentkit.appspec import acl
from agentkit.appspec.agent1 import FEB_VALUES
from agentkit.appspec.model import (
    WINDOWS_ON_LINUX,
    AppSpec,
    Evaluation,
    FileMapping,
    Permission,
    Recorder,
    Script,
    supported_oses,
)
from agentkit.yamlconf.source import MappingNode, Node, ScalarNode, SequenceNode, Source
from agentkit.yamlconf.view import MapView, Path, plain12, pos

GEN = "2"
_YAML = "The deployment failed because of a YAML parsing error: "
_SERDE, _VERSION, _OS, _FEB, _HOOKS, _FILES, _WINPERM, _PERMS = range(1, 9)


def serde_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(node: Node | None) -> str:
    kind, value = plain12(node)
    if kind == "null":
        return "unit value"
    if kind == "string":
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'string "{escaped}"'  # Rust's Debug for str
    if kind == "int":
        return f"integer `{value}`"
    if kind == "float":
        shown = _f64(value)
        if math.isfinite(value) and value == int(value):
            shown += ".0"  # serde's Unexpected::Float always shows a fraction
        return f"floating point `{shown}`"
    if kind == "bool":
        return f"boolean `{str(value).lower()}`"
    return {"seq": "sequence", "map": "map"}[kind]


def _f64(value: float) -> str:
    """Rust's Display for f64: 1.0 prints as 1, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value):
        return str(int(value))
    return repr(value)


class _Eval(Recorder):
    def __init__(self) -> None:
        super().__init__(GEN)

    def serde(self, code: str, path: Path, node: Node | None, problem: str, detail: str) -> None:
        """A serde_yaml deserialization error: met in document order, before any check."""
        line, col = pos(node)
        where = f"{serde_path(path)}: " if path else ""
        at = f" at line {line} column {col}" if line and (line, col) != (1, 1) else ""
        order = (_SERDE, line or 0, col or 0)
        self.fail(order, code, path, node, detail, f"{_YAML}{where}{problem}{at}")


def _text(ev: _Eval, path: Path, node: Node | None) -> str | None:
    """An Option<String> field: any scalar's raw text; null is None."""
    kind = plain12(node)[0]
    if kind == "null":
        return None
    if kind in ("seq", "map"):
        ev.serde("AK102", path, node, f"invalid type: {_describe(node)}, expected a string",
                 "expected text")
        return None
    assert isinstance(node, ScalarNode)
    return str(node.value)


def _struct(ev: _Eval, path: Path, node: Node, name: str) -> MapView | None:
    if isinstance(node, ScalarNode) and node.value == "" and not node.style:
        # serde_yaml deserializes an empty plain scalar (a bare `-`) as an empty map.
        node = MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark)
    if not isinstance(node, MappingNode):
        ev.serde("AK102", path, node, f"invalid type: {_describe(node)}, expected struct {name}",
                 f"expected a mapping, got {_describe(node)}")
        return None
    view = MapView(node)
    for dup in view.duplicates:
        # serde names the enclosing mapping (its path and start mark), not the repeated key.
        line, col = pos(node)
        where = f"{serde_path(path)}: " if path else ""
        at = f" at line {line} column {col}" if (line, col) != (1, 1) else ""
        dline, dcol = pos(dup.key_node)
        ev.fail((_SERDE, dline or 0, dcol or 0), "AK104", (*path, str(dup.key)), dup.key_node,
                f"`{dup.key}` is given twice",
                message=f"{_YAML}{where}duplicate field `{dup.key}`{at}")
    return view


def _seq(ev: _Eval, path: Path, node: Node | None) -> list[Node]:
    """A Vec field with a default: empty plain value is empty; `~` is an error."""
    if node is None or (isinstance(node, ScalarNode) and node.value == "" and not node.style):
        return []
    if isinstance(node, SequenceNode):
        return list(node.value)
    ev.serde("AK102", path, node, f"invalid type: {_describe(node)}, expected a sequence",
             f"expected a list, got {_describe(node)}")
    return []


def evaluate(src: Source, platform: str = "any") -> Evaluation:
    ev = _Eval()
    ev.read(("<aliases>",), None, "accepted" if src.aliases else "none")
    if not src.text.strip():
        ev.fail((0,), "AK101", ("<document>",), None, "the file is empty")
        return ev.done()
    root = src.root
    if src.documents > 1:
        ev.fail((0,), "AK100", ("<document>",), None, "the file holds more than one YAML document",
                message=f"{_YAML}deserializing from YAML containing more than one document is "
                        "not supported")
    if root is None:
        ev.fail((0,), "AK101", ("<document>",), None, "the file holds only comments",
                message=f"{_YAML}EOF while parsing a value")
        return ev.done()
    top = _struct(ev, (), root, "RawAppSpec")
    if top is None:
        return ev.done()
    for key in ("version", "os"):
        if key not in top:
            # serde notices a missing field only after reading the whole mapping.
            line, col = pos(root)
            ev.fail((_SERDE, 1 << 30, 0), "AK110" if key == "version" else "AK111", (key,),
                    root, f"`{key}` is missing", message=f"{_YAML}missing field `{key}`"
                    + (f" at line {line} column {col}" if (line, col) != (1, 1) else ""))
    version_ok = _version(ev, top)
    os_name = _os(ev, top, platform)
    feb = _feb(ev, top)
    hooks = _hooks(ev, top)
    files = _files(ev, top)
    perms = _permissions(ev, top, os_name)
    spec = None
    if not ev.errors and version_ok:
        spec = AppSpec(os_name or "", hooks, tuple(files), tuple(perms), feb)
    return ev.done(spec)


def _version(ev: _Eval, top: MapView) -> bool:
    node = top.get("version")
    if "version" not in top:
        return False
    kind, value = plain12(node)
    text = node.value.lstrip("+-") if isinstance(node, ScalarNode) else ""
    if kind == "int" and text[:2] in ("0x", "0o", "0b"):  # f64 parsing has no radix prefixes
        ev.serde("AK110", ("version",), node, f"invalid type: integer `{value}`, expected f64",
                 f"expected the number 0.0, got {node.value}")  # type: ignore[union-attr]
        return False
    if kind not in ("int", "float"):
        ev.serde("AK110", ("version",), node, f"invalid type: {_describe(node)}, expected f64",
                 f"expected the number 0.0, got {_describe(node)}")
        return False
    if abs(float(value)) < 2.220446049250313e-16:
        ev.read(("version",), node, "accepted")
        return True
    ev.fail((_VERSION,), "AK110", ("version",), node,
            f"expected the number 0.0, got {_f64(float(value))}", version=_f64(float(value)))
    return False


def _os(ev: _Eval, top: MapView, platform: str) -> str | None:
    if "os" not in top:
        return None
    node = top.get("os")
    text = _text(ev, ("os",), node)
    if text is None and plain12(node)[0] != "null":
        return None
    # A required String field takes any scalar's raw text, null words included.
    shown = text if text is not None else (node.value if isinstance(node, ScalarNode) else "")
    if shown in supported_oses(platform):
        ev.read(("os",), node, shown)
        return shown
    if shown == "windows":
        ev.fail((_OS,), "AK111", ("os",), node, WINDOWS_ON_LINUX, os=shown)
        return None
    ev.fail((_OS,), "AK111", ("os",), node, f"expected linux or windows, got {shown!r}",
            os=shown)
    return None


def _feb(ev: _Eval, top: MapView) -> str | None:
    node = top.get("file_exists_behavior")
    value = _text(ev, ("file_exists_behavior",), node)
    if value is None:
        return None
    if value in FEB_VALUES:
        ev.read(("file_exists_behavior",), node, value)
        return value
    ev.fail((_FEB,), "AK112", ("file_exists_behavior",), node,
            f"expected DISALLOW, OVERWRITE or RETAIN, got {value!r}", value=value)
    return None


def _hooks(ev: _Eval, top: MapView) -> dict[str, tuple[Script, ...]]:
    out: dict[str, tuple[Script, ...]] = {}
    node = top.get("hooks")
    if node is None or (isinstance(node, ScalarNode) and node.value == "" and not node.style):
        return out
    if not isinstance(node, MappingNode):
        ev.serde("AK102", ("hooks",), node, f"invalid type: {_describe(node)}, expected a map",
                 f"expected a mapping of events, got {_describe(node)}")
        return out
    for i, entry in enumerate(MapView(node).entries()):
        name = entry.key_node.value if isinstance(entry.key_node, ScalarNode) else str(entry.key)
        path: Path = ("hooks", name)
        if plain12(entry.value)[0] == "null":
            continue
        if not isinstance(entry.value, SequenceNode):
            ev.serde("AK102", path, entry.value,
                     f"invalid type: {_describe(entry.value)}, expected a sequence",
                     f"expected a list of scripts, got {_describe(entry.value)}")
            continue
        scripts = []
        for j, item in enumerate(entry.value.value):
            script = _script(ev, (_HOOKS, i, j), (*path, j), item)
            if script is not None:
                scripts.append(script)
        if scripts:
            out[name] = tuple(scripts)
    return out


_BAD = object()  # a value serde_yaml refused (distinct from a real `false`)


def _typed(ev: _Eval, path: Path, node: Node | None, expected: str,
           accept: Callable[[str, Any], bool]) -> Any:
    kind, value = plain12(node)
    if kind == "null":
        return None
    if accept(kind, value):
        return value
    if kind == "int" and expected == "u32":
        problem = (f"invalid value: integer `{value}`, expected u32" if value > 0
                   else f"invalid type: integer `{value}`, expected u32")
    else:
        problem = f"invalid type: {_describe(node)}, expected {expected}"
    ev.serde("AK131" if expected == "u32" else "AK102", path, node, problem,
             f"{_describe(node)} is not {'a whole number' if expected == 'u32' else expected}")
    return _BAD


def _script(ev: _Eval, order: tuple[int, ...], path: Path, node: Node) -> Script | None:
    m = _struct(ev, path, node, "RawScript")
    if m is None:
        return None
    location = _text(ev, (*path, "location"), m.get("location"))
    runas = _text(ev, (*path, "runas"), m.get("runas"))
    sudo = _typed(ev, (*path, "sudo"), m.get("sudo"), "a boolean",
                  lambda k, v: k == "bool")
    timeout = _typed(ev, (*path, "timeout"), m.get("timeout"), "u32",
                     lambda k, v: k == "int" and 0 <= v <= 0xFFFFFFFF)
    if runas is not None:
        ev.read((*path, "runas"), m.get("runas"),
                f"runs as {runas.strip()}" if runas.strip() else "no runas (ignored)")
    if m.get("sudo") is not None and sudo is not _BAD:
        ev.read((*path, "sudo"), m.get("sudo"), "with sudo" if sudo else "without sudo")
    if location is None or not location.strip():
        ev.fail((*order, 0), "AK130", (*path, "location"), m.get("location") or node,
                "a script needs a location")
        return None
    ev.read((*path, "location"), m.get("location"), repr(location.strip()))
    if timeout is _BAD or sudo is _BAD:
        return None
    if timeout == 0:
        ev.fail((*order, 1), "AK131", (*path, "timeout"), m.get("timeout"),
                "expected a positive integer, got 0")
        return None
    seconds = 3600 if timeout is None else int(timeout)
    ev.read((*path, "timeout"), m.get("timeout"), f"{seconds} seconds")
    return Script(location.strip(), seconds, runas.strip() or None if runas else None,
                  bool(sudo), pos(node)[0])


def _files(ev: _Eval, top: MapView) -> list[FileMapping]:
    out: list[FileMapping] = []
    items = _seq(ev, ("files",), top.get("files"))
    if "files" in top and not ev.readings.get(("files",), (0, 0, ""))[2].startswith("rej"):
        ev.read(("files",), top.get("files"),
                f"{len(items)} entries" if items else "no files")
    for i, item in enumerate(items):
        path: Path = ("files", i)
        m = _struct(ev, path, item, "RawFileMapping")
        if m is None:
            continue
        source = _text(ev, (*path, "source"), m.get("source"))
        dest = _text(ev, (*path, "destination"), m.get("destination"))
        if not source:
            ev.fail((_FILES, i), "AK120", (*path, "source"), m.get("source") or item,
                    "a files entry needs a source")
            continue
        if not dest:
            ev.fail((_FILES, i), "AK121", (*path, "destination"), m.get("destination") or item,
                    "a files entry needs a destination", source=source)
            continue
        ev.read((*path, "source"), m.get("source"), repr(source))
        ev.read((*path, "destination"), m.get("destination"), repr(dest))
        out.append(FileMapping(source, dest, pos(item)[0]))
    return out


def _permissions(ev: _Eval, top: MapView, os_name: str | None) -> list[Permission]:
    items = _seq(ev, ("permissions",), top.get("permissions"))
    if items and os_name == "windows":
        ev.fail((_WINPERM,), "AK146", ("permissions",), top.get("permissions"),
                "permissions are not supported on Windows", message=_WINDOWS_PERMISSIONS)
        return []
    out = []
    for i, item in enumerate(items):
        perm = _permission(ev, (_PERMS, i), ("permissions", i), item)
        if perm is not None:
            out.append(perm)
    return out


_WINDOWS_PERMISSIONS = (
    "The deployment failed because the application specification file specifies file "
    "permissions, but the deployment is targeting one or more Windows Server instances. "
    "Permissions are supported only for Amazon Linux, Ubuntu Server, and Red Hat Enterprise "
    "Linux (RHEL) instances. Update the permissions section of the AppSpec file, and then try "
    "again.")


def _texts(ev: _Eval, path: Path, node: Node | None) -> list[str] | None:
    if plain12(node)[0] == "null":
        return None
    out = []
    for j, item in enumerate(_seq(ev, path, node)):
        text = _text(ev, (*path, j), item)
        out.append(text if text is not None else "")
    return out


def _permission(ev: _Eval, order: tuple[int, ...], path: Path, node: Node) -> Permission | None:
    m = _struct(ev, path, node, "RawPermission")
    if m is None:
        return None
    fields = {k: _text(ev, (*path, k), m.get(k))
              for k in ("object", "pattern", "owner", "group", "mode")}
    excepts = _texts(ev, (*path, "except"), m.get("except"))
    types = _texts(ev, (*path, "type"), m.get("type"))
    acls = _texts(ev, (*path, "acls"), m.get("acls"))
    ctx = m.get("context")
    ctx_view = _struct(ev, (*path, "context"), ctx, "RawContext") if (
        ctx is not None and plain12(ctx)[0] != "null") else None
    obj = (fields["object"] or "").strip()
    if not obj:
        ev.fail((*order, 0), "AK140", (*path, "object"), m.get("object") or node,
                "a permission needs an object")
        return None
    for t in types or []:
        if t not in ("file", "directory"):
            ev.fail((*order, 1), "AK143", (*path, "type"), m.get("type"),
                    f"expected file or directory, got {t!r}",
                    message=("The deployment failed because the application specification file "
                             "specifies a permission for an object type not supported for "
                             f"permissions ({t}). Update the permissions section of the AppSpec "
                             "file, and then try again."))
            return None
    mode = _mode(ev, (*order, 2), (*path, "mode"), m.get("mode"), fields["mode"])
    if isinstance(mode, bool) or not _acls(ev, (*order, 3), (*path, "acls"), m.get("acls"),
                                           acls):
        return None
    if ctx_view is not None and not _context(ev, (*order, 4), (*path, "context"), ctx_view):
        return None
    return Permission(obj, fields["pattern"] or "**", tuple(excepts or ()),
                      tuple(types) if types is not None else ("file", "directory"),
                      fields["owner"], fields["group"], mode, tuple(acls or ()), pos(node)[0])


def _mode(ev: _Eval, order: tuple[int, ...], path: Path, node: Node | None,
          text: str | None) -> str | bool | None:
    if text is None:
        return None
    padded = text.rjust(3, "0")
    if len(padded.encode()) > 4:
        ev.fail(order, "AK141", path, node, f"{text!r} is longer than 4 characters", mode=text)
        return False
    for ch in padded:
        if ch not in "01234567":
            ev.fail(order, "AK142", path, node, f"{ch!r} is not an octal digit in {text!r}",
                    mode=text, char=ch)
            return False
    ev.read(path, node, f"chmod {padded.rjust(4, '0')}")
    return padded


def _acls(ev: _Eval, order: tuple[int, ...], path: Path, node: Node | None,
          acls: list[str] | None) -> bool:
    for j, entry in enumerate(acls or []):
        item = node.value[j] if isinstance(node, SequenceNode) else node
        problem = acl.ace_rust(entry)
        if problem is not None:
            message = acl.message(problem, entry)
            ev.fail(order, "AK144", (*path, j), item, acl.detail(problem, entry),
                    message=message)
            return False
        ev.read((*path, j), item, "accepted")
    return True


def _context(ev: _Eval, order: tuple[int, ...], path: Path, view: MapView) -> bool:
    name, ctype, rng = (plain12(view.get(k)) for k in ("name", "type", "range"))
    if ctype[0] == "null":
        def show(v: tuple[str, Any], node: Node | None) -> str:
            return "None" if v[0] == "null" else f'Some("{node.value}")'  # type: ignore[union-attr]
        raw = (f"RawContext {{ name: {show(name, view.get('name'))}, type_: None, "
               f"range: {show(rng, view.get('range'))} }}")
        ev.fail(order, "AK145", path, view.node, "an SELinux context needs a type",
                message=("The deployment failed because the application specification file "
                         "specifies an invalid context type (SELinux context missing required "
                         f"'type' field: {raw}). Update the permissions section of the AppSpec "
                         "file, and then try again."))
        return False
    rnode = view.get("range")
    if rng[0] == "null":
        ev.read(path, view.node, "accepted")
        return True
    text = rnode.value if isinstance(rnode, ScalarNode) else ""
    if acl.range_rust(text):
        ev.read((*path, "range"), rnode, "accepted")
        return True
    ev.fail(order, "AK145", (*path, "range"), rnode,
            f"{text!r} is not an MLS range like s0-s0:c0.c1023",
            message=("The deployment failed because of a problem with the SELinux range "
                     f"specified ({text}) for the context parameter in the permissions section of "
                     "the application specification file. Make corrections in the permissions "
                     "section of the AppSpec file, and then try again."))
    return False
