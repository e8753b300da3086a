"""The appspec as the Ruby agent 1.8.x parses it.

Mirrors lib/instance_agent/plugins/codedeploy/application_specification/
application_specification.rb (check order: empty, version, os, hooks, files, permissions,
file_exists_behavior), script_info.rb, file_info.rb, linux_permission_info.rb, mode_info.rb,
acl_info.rb/ace_info.rb and context_info.rb/range_info.rb. Where Ruby itself crashes on a shape
(NoMethodError, TypeError) the agent reports that exception's text, so we do too.

Over 500 lines: it mirrors application_specification.rb and its seven info classes in
their check order; one module keeps that order readable in one place.
"""

from __future__ import annotations

from typing import Any

from agentkit.appspec import acl, ruby
from agentkit.appspec.model import (
    WINDOWS_ON_LINUX,
    AgentError,
    AppSpec,
    Context,
    Evaluation,
    FileMapping,
    Permission,
    Recorder,
    Script,
    supported_oses,
)
from agentkit.appspec.rules import RULES
from agentkit.yamlconf.source import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    Source,
    is_date,
)
from agentkit.yamlconf.view import MapView, Path, is_null11, pos, value11

GEN = "1"
_SECTION = {"version": 1, "os": 2, "hooks": 3, "files": 4, "permissions": 5,
            "file_exists_behavior": 6}
FEB_VALUES = ("DISALLOW", "OVERWRITE", "RETAIN")


class _Eval(Recorder):
    def __init__(self) -> None:
        super().__init__(GEN)


def _no_method(method: str, value: Any) -> str:
    return f"undefined method `{method}' for {ruby.inspect(value)}:{ruby.ruby_class(value)}"


def _kind(value: Any) -> str:
    return {"NilClass": "nothing", "TrueClass": "true", "FalseClass": "false",
            "Array": "a list", "Hash": "a mapping", "String": "text"}.get(
                ruby.ruby_class(value), f"a {ruby.ruby_class(value)}")


def evaluate(src: Source, platform: str = "any") -> Evaluation:
    """`platform` is the instance's: "linux" (verify models a Linux agent) or "any" (lint,
    which does not know where the file will be deployed)."""
    ev = _Eval()
    root = src.root
    if src.aliases:
        line, col = src.aliases[0]
        ev.errors.append(AgentError((0,), "AK103", ("<document>",), line, col,
                                    "YAML aliases are refused by agent 1.x (Psych 4)",
                                    RULES["AK103"].agent_message(GEN, {}) or ""))
    ev.read(("<aliases>",), None, "rejected" if src.aliases else "none")
    date = _first_date(root)
    if date is not None:
        ev.fail((0,), "AK105", ("<document>",), date,
                f"{date.value!r} is a YAML date, which agent 1.x (Psych 4) refuses to load",
                message=f"Tried to load unspecified class: "
                      f"{'Date' if len(date.value) <= 10 else 'Time'}")
    if root is None or (isinstance(root, ScalarNode) and value11(root) in (None, False)):
        ev.fail((0,), "AK101", ("<document>",), root, "the file is empty")
        return ev.done()
    if isinstance(root, ScalarNode) and isinstance(value11(root), str):
        # String#[]('version') is a substring search: the agent reaches the version check.
        text = "version" if "version" in str(value11(root)) else ""
        ev.fail((1,), "AK110", ("version",), root,
                "expected the number 0.0, got a plain text document", version=text)
        return ev.done()
    if not isinstance(root, MappingNode):
        value = value11(root)
        msg = ("no implicit conversion of String into Integer"
               if isinstance(value, (list, int)) and not isinstance(value, bool)
               else _no_method("[]", value))
        ev.fail((0,), "AK102", ("<document>",), root,
                f"expected a mapping of keys (version, os, files, hooks...), got {_kind(value)}",
                message=msg)
        return ev.done()
    top = MapView(root)
    if src.bom:
        # Observed on 1.8.1: with a BOM only the first top-level key survives.
        first = top.entries()[:1]
        top = _only(root, first[0].key if first else None)
    version = _version(ev, top)
    os_name = _os(ev, top, platform)
    hooks = _hooks(ev, top)
    files = _files(ev, top)
    perms = _permissions(ev, top, os_name)
    feb = _feb(ev, top)
    spec = None
    if not ev.errors and version:
        spec = AppSpec(os_name or "", hooks, tuple(files), tuple(perms), feb)
    return ev.done(spec)


def _first_date(node: Node | None) -> ScalarNode | None:
    if isinstance(node, ScalarNode):
        return node if is_date(node) else None
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        found = _first_date(child)
        if found is not None:
            return found
    return None


def _only(root: MappingNode, key: Any) -> MapView:
    view = MapView(MappingNode(root.tag, [], root.start_mark, root.end_mark))
    if key is not None:
        full = MapView(root)
        entry = full.entry(key)
        if entry:
            view = MapView(MappingNode(root.tag, [(entry.key_node, entry.value)],
                                       root.start_mark, root.end_mark))
    return view


def _version(ev: _Eval, top: MapView) -> bool:
    node = top.get("version")
    value = value11(node)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    if ok:
        ev.read(("version",), node, "accepted")
        return True
    got = "nothing" if value is None else (
        f'the string "{value}"' if isinstance(value, str) else ruby.to_s(value))
    ev.fail((_SECTION["version"],), "AK110", ("version",), node or top.node,
            f"expected the number 0.0, got {got}", version=ruby.to_s(value))
    return False


def _os(ev: _Eval, top: MapView, platform: str) -> str | None:
    node = top.get("os")
    value = value11(node)
    if type(value) is str and value in supported_oses(platform):  # a :symbol is not the string
        ev.read(("os",), node, f"{value}")
        return str(value)
    if value == "windows":
        ev.fail((_SECTION["os"],), "AK111", ("os",), node, WINDOWS_ON_LINUX, os="windows")
        return None
    got = "nothing" if value is None else repr(ruby.to_s(value))
    ev.fail((_SECTION["os"],), "AK111", ("os",), node or top.node,
            f"expected linux or windows, got {got}", os=ruby.to_s(value))
    return None


def _shape_error(ev: _Eval, order: tuple[int, ...], path: Path, node: Node, expected: str,
                 ruby_msg: str, fix: str) -> None:
    ev.fail(order, "AK102", path, node, f"expected {expected}, got {_kind(value11(node))}",
            message=ruby_msg, fix=fix)


def _hooks(ev: _Eval, top: MapView) -> dict[str, tuple[Script, ...]]:
    out: dict[str, tuple[Script, ...]] = {}
    node = top.get("hooks")
    if is_null11(node) or value11(node) is False:
        return out
    assert node is not None
    sec = _SECTION["hooks"]
    if not isinstance(node, MappingNode):
        _shape_error(ev, (sec,), ("hooks",), node, "a mapping of event names to script lists",
                     _no_method("each_pair", value11(node)),
                     "write `hooks:` then one `EventName:` line per event, indented")
        return out
    for i, entry in enumerate(MapView(node).entries()):
        name = ruby.to_s(entry.key)
        path: Path = ("hooks", name)
        scripts = entry.value
        if is_null11(scripts) or value11(scripts) in (False, {}):
            continue  # Hash#each over an empty Hash yields nothing: no scripts, no crash
        if isinstance(scripts, MappingNode):
            first = value11(scripts)
            pair = next(iter(first.items())) if first else None
            _shape_error(ev, (sec, i), path, scripts, "a list of scripts (`- location: ...`)",
                         _no_method("has_key?", list(pair) if pair else []),
                         "start each script with `- location:`")
            continue
        if not isinstance(scripts, SequenceNode):
            _shape_error(ev, (sec, i), path, scripts, "a list of scripts (`- location: ...`)",
                         _no_method("each", value11(scripts)),
                         "write `- location: path/to/script.sh` under the event")
            continue
        out[name] = tuple(s for j, item in enumerate(scripts.value)
                          if (s := _script(ev, (sec, i, j), (*path, j), item)) is not None)
    return out


def _script(ev: _Eval, order: tuple[int, ...], path: Path, node: Node) -> Script | None:
    if not isinstance(node, MappingNode):
        _shape_error(ev, order, path, node, "a mapping with `location:`",
                     _no_method("has_key?", value11(node)),
                     "write the script as `- location: path/to/script.sh`")
        return None
    m = MapView(node)
    loc_node = m.get("location")
    location = ruby.to_s(value11(loc_node)).strip()
    if is_null11(loc_node) or not location:
        ev.fail((*order, 0), "AK130", (*path, "location"), loc_node or node,
                "a script needs a location")
        return None
    ev.read((*path, "location"), loc_node, repr(location))
    timeout = _timeout(ev, (*order, 1), (*path, "timeout"), m.get("timeout"))
    runas_node = m.get("runas")
    runas = None if is_null11(runas_node) else ruby.to_s(value11(runas_node)).strip()
    if runas is not None:
        ev.read((*path, "runas"), runas_node,
                "runs `su '' -c` (fails)" if runas == "" else f"runs as {runas}")
    sudo_node = m.get("sudo")
    sudo_value = value11(sudo_node)
    sudo = sudo_value is not None and sudo_value is not False
    if sudo_node is not None:
        ev.read((*path, "sudo"), sudo_node, "with sudo" if sudo else "without sudo")
    if timeout is None:
        return None
    return Script(location, timeout, runas, sudo, pos(node)[0])


def _timeout(ev: _Eval, order: tuple[int, ...], path: Path, node: Node | None) -> int | None:
    value = value11(node)
    if value is None or value is False:
        ev.read(path, node, "3600 seconds")
        return 3600
    try:
        seconds = ruby.to_i(value)
    except ruby.NoMethod as exc:
        ev.fail(order, "AK131", path, node,
                f"expected a positive integer, got {ruby.to_s(value)}", message=str(exc))
        return None
    if seconds <= 0:
        shown = ruby.inspect(value) if isinstance(value, str) else ruby.to_s(value)
        extra = "" if isinstance(value, int) else f", which the agent reads as {seconds}"
        ev.fail(order, "AK131", path, node, f"expected a positive integer, got {shown}{extra}")
        return None
    ev.read(path, node, f"{seconds} seconds")
    return seconds


def _files(ev: _Eval, top: MapView) -> list[FileMapping]:
    out: list[FileMapping] = []
    node = top.get("files")
    value = value11(node)
    if value is None or value is False or value == {}:
        ev.read(("files",), node, "no files")
        return out
    assert node is not None
    sec = _SECTION["files"]
    if isinstance(node, MappingNode):
        _shape_error(ev, (sec,), ("files",), node, "a list of `- source: ... destination: ...`",
                     "no implicit conversion of String into Integer",
                     "start each entry with `- source:`")
        return out
    if not isinstance(node, SequenceNode):
        _shape_error(ev, (sec,), ("files",), node, "a list of `- source: ... destination: ...`",
                     _no_method("each", value), "start each entry with `- source:`")
        return out
    ev.read(("files",), node, f"{len(node.value)} entries")
    for i, item in enumerate(node.value):
        path: Path = ("files", i)
        if not isinstance(item, MappingNode):
            item_value = value11(item)
            if isinstance(item_value, str):
                source = "source" if "source" in item_value else None
                dest = "destination" if "destination" in item_value else None
                if source is None:
                    ev.fail((sec, i), "AK120", (*path, "source"), item,
                            "a files entry needs a source")
                elif dest is None:
                    ev.fail((sec, i), "AK121", (*path, "destination"), item,
                            "a files entry needs a destination", source=source)
                continue
            msg = ("no implicit conversion of String into Integer"
                   if isinstance(item_value, list) else _no_method("[]", item_value))
            _shape_error(ev, (sec, i), path, item, "a mapping with source and destination",
                         msg, "write `- source: ...` and `destination: ...` in one entry")
            continue
        m = MapView(item)
        src_node, dst_node = m.get("source"), m.get("destination")
        if is_null11(src_node):
            ev.fail((sec, i), "AK120", (*path, "source"), src_node or item,
                    "a files entry needs a source")
            continue
        if is_null11(dst_node):
            ev.fail((sec, i), "AK121", (*path, "destination"), dst_node or item,
                    "a files entry needs a destination", source=ruby.to_s(value11(src_node)))
            continue
        source, dest = ruby.to_s(value11(src_node)), ruby.to_s(value11(dst_node))
        ev.read((*path, "source"), src_node, repr(source))
        ev.read((*path, "destination"), dst_node, repr(dest))
        out.append(FileMapping(source, dest, pos(item)[0]))
    return out


def _feb(ev: _Eval, top: MapView) -> str | None:
    node = top.get("file_exists_behavior")
    value = value11(node)
    if value is None:
        return None
    if type(value) is str and value in FEB_VALUES:
        ev.read(("file_exists_behavior",), node, str(value))
        return str(value)
    ev.fail((_SECTION["file_exists_behavior"],), "AK112", ("file_exists_behavior",), node,
            f"expected DISALLOW, OVERWRITE or RETAIN, got {ruby.to_s(value)!r}",
            value=ruby.to_s(value))
    return None



def _permissions(ev: _Eval, top: MapView, os_name: str | None) -> list[Permission]:
    out: list[Permission] = []
    node = top.get("permissions")
    value = value11(node)
    if value is None or value is False or value == {}:
        return out
    assert node is not None
    sec = _SECTION["permissions"]
    if not isinstance(node, SequenceNode):
        first = next(iter(value.items())) if isinstance(value, dict) and value else None
        msg = (_no_method("has_key?", list(first)) if first is not None
               else _no_method("each", value))
        _shape_error(ev, (sec,), ("permissions",), node, "a list of `- object: ...` entries",
                     msg, "start each entry with `- object:`")
        return out
    for i, item in enumerate(node.value):
        perm = _permission(ev, (sec, i), ("permissions", i), item, os_name)
        if perm is not None:
            out.append(perm)
    return out


def _permission(ev: _Eval, order: tuple[int, ...], path: Path, node: Node,
                os_name: str | None) -> Permission | None:
    if not isinstance(node, MappingNode):
        _shape_error(ev, order, path, node, "a mapping with `object:`",
                     _no_method("has_key?", value11(node)), "write `- object: /path`")
        return None
    m = MapView(node)
    obj_node = m.get("object")
    if is_null11(obj_node):
        ev.fail((*order, 0), "AK140", (*path, "object"), obj_node or node,
                "a permission needs an object")
        return None
    if os_name == "windows":  # an invalid os already failed earlier; the agent never gets here
        ev.fail((*order, 1), "AK146", path, node, "permissions are not supported on Windows",
                message=_WINDOWS_PERMISSIONS)
        return None
    ok = True
    except_node = m.get("except")
    excepts = value11(except_node)
    if excepts not in (None, False) and not isinstance(excepts, (list, dict)):
        _shape_error(ev, (*order, 2), (*path, "except"), except_node,  # type: ignore[arg-type]
                     "a list of patterns", _no_method("each", excepts), "write `except: [name]`")
        ok = False
    types = _types(ev, (*order, 3), (*path, "type"), m.get("type"))
    mode = _mode(ev, (*order, 4), (*path, "mode"), m.get("mode"))
    acls = _acls(ev, (*order, 5), (*path, "acls"), m.get("acls"))
    ctx_ok = _context(ev, (*order, 6), (*path, "context"), m.get("context"))
    obj = ruby.to_s(value11(obj_node)).strip()
    if not obj:
        ev.fail((*order, 7), "AK140", (*path, "object"), obj_node,
                "a permission needs a non-empty object")
        return None
    if not (ok and types is not None and isinstance(mode, (str, type(None)))
            and acls is not None and ctx_ok):
        return None
    pattern = value11(m.get("pattern"))
    return Permission(
        obj, "**" if pattern in (None, False, "**") else ruby.to_s(pattern),
        tuple(ruby.to_s(e) for e in (excepts or [])), types,
        _opt_text(m.get("owner")), _opt_text(m.get("group")), mode, acls, pos(node)[0],
        _context_info(value11(m.get("context"))))


def _context_info(value: object) -> Context | None:
    """ContextInfo.new of a context _context accepted (a String answers `[]` too)."""
    if value is None:
        return None
    if isinstance(value, dict):
        name, ctx_type, rng = value.get("name"), value.get("type"), value.get("range")
    else:
        text = str(value)
        name, ctx_type, rng = (k if k in text else None for k in ("name", "type", "range"))
    return Context(None if name is None else ruby.to_s(name), ruby.to_s(ctx_type),
                   None if rng is None else str(rng))


_WINDOWS_PERMISSIONS = (
    "The deployment failed because the application specification file specifiles file "
    "permissions, but the deployment is targeting one or more Windows Server instances. "
    "Permissions are supported only for Amazon Linux, Ubuntu Server, and Red Hat Enterprise "
    "Linux (RHEL) instances. Update the permissions section of the AppSpec file, and then try "
    "again.")


def _opt_text(node: Node | None) -> str | None:
    return None if is_null11(node) else ruby.to_s(value11(node))


def _types(ev: _Eval, order: tuple[int, ...], path: Path,
           node: Node | None) -> tuple[str, ...] | None:
    value = value11(node)
    if value is None:
        return ("file", "directory")
    assert node is not None
    if isinstance(value, dict):
        value = [list(kv) for kv in value.items()]
    if not isinstance(value, list):
        ev.fail(order, "AK143", path, node, f"expected a list of file/directory, got "
                f"{ruby.inspect(value)}", message=_no_method("each", value))
        return None
    for item in value:
        if type(item) is not str or item not in ("file", "directory"):
            ev.fail(order, "AK143", path, node,
                    f"expected file or directory, got {ruby.inspect(item)}",
                    message=_TYPE_MESSAGE.format(ruby.to_s(item)))
            return None
    ev.read(path, node, " and ".join(value) or "nothing (matches no object)")
    return tuple(value)


_TYPE_MESSAGE = (
    "The deployment failed because the application specification filespecifies a permission "
    "for an object type not supported for permissions ({}). Update the permissions section of "
    "the AppSpec file, and then try again.")


def _mode(ev: _Eval, order: tuple[int, ...], path: Path, node: Node | None) -> str | bool | None:
    """The mode digits, None when absent, False when rejected."""
    value = value11(node)
    if value is None:
        return None
    text = ruby.to_s(value).rjust(3, "0")
    if len(text) > 4:
        ev.fail(order, "AK141", path, node, f"{text!r} is longer than 4 characters", mode=text)
        return False
    for ch in text:
        if ch not in "01234567":
            ev.fail(order, "AK142", path, node, f"{ch!r} is not an octal digit in {text!r}",
                    mode=text, char=ch)
            return False
    ev.read(path, node, f"chmod {text.rjust(4, '0')}")
    return text


def _acls(ev: _Eval, order: tuple[int, ...], path: Path,
          node: Node | None) -> tuple[str, ...] | None:
    value = value11(node)
    if value is None or value == {}:
        return ()
    assert node is not None
    if isinstance(value, dict):  # Hash#each yields [key, value] pairs; String#split fails on them
        pair = next(list(kv) for kv in value.items())
        ev.fail(order, "AK144", path, node, "expected a list of ACL entries",
                message=_no_method("split", pair))
        return None
    if not isinstance(value, list):
        ev.fail(order, "AK144", path, node, "expected a list of ACL entries",
                message=_no_method("each", value))
        return None
    items = node.value if isinstance(node, SequenceNode) else [node] * len(value)
    for j, (entry, item) in enumerate(zip(value, items)):
        if not isinstance(entry, str):
            ev.fail(order, "AK144", (*path, j), item, f"expected text, got {_kind(entry)}",
                    message=_no_method("split", entry))
            return None
        problem = acl.ace_ruby(entry)
        if problem is not None:
            ev.fail(order, "AK144", (*path, j), item, acl.detail(problem, entry),
                    message=acl.message(problem, entry))
            return None
        ev.read((*path, j), item, "accepted")
    return tuple(value)


def _context(ev: _Eval, order: tuple[int, ...], path: Path, node: Node | None) -> bool:
    value = value11(node)
    if value is None:
        return True
    assert node is not None
    if isinstance(value, (list, int)) and not isinstance(value, bool):
        ev.fail(order, "AK145", path, node, "expected a mapping with type (and name, range)",
                message="no implicit conversion of String into Integer")
        return False
    if not isinstance(value, (dict, str)):
        ev.fail(order, "AK145", path, node, "expected a mapping with type (and name, range)",
                message=_no_method("[]", value))
        return False
    ctx_type = value.get("type") if isinstance(value, dict) else (
        "type" if "type" in value else None)
    if ctx_type is None:
        ev.fail(order, "AK145", path, node, "an SELinux context needs a type",
                message=("The deployment failed because the application specification file "
                       f"specifies an invalid context type ({ruby.inspect(value)}). Update the "
                       "permissions section of the AppSpec file, and then try again."))
        return False
    rng = value.get("range") if isinstance(value, dict) else None
    if rng is None:
        ev.read(path, node, "accepted")
        return True
    if not isinstance(rng, str):
        ev.fail(order, "AK145", (*path, "range"), node, "expected the range as text",
                message=_no_method("split", rng))
        return False
    problem = acl.range_ruby(rng)
    if problem is None:
        ev.read((*path, "range"), node, "accepted")
        return True
    message = problem if problem != "range" else (
        "The deployment failed because of a problem with the SELinux range specified "
        f"({rng}) for the context parameter in the permissions section of the application "
        "specification file. Make corrections in the permissions section of the AppSpec file, "
        "and then try again.")
    ev.fail(order, "AK145", (*path, "range"), node,
            f"{rng!r} is not an MLS range like s0-s0:c0.c1023", message=message)
    return False
