"""ACL entries and SELinux ranges as each agent generation parses them.

1.x: lib/.../application_specification/ace_info.rb and range_info.rb; 2.x:
src/application_specification/acl.rs and selinux.rs. The grammars differ (2-field ACLs,
`o::rwx`, duplicate categories...), so each is written out on its own. A result of None means
valid; otherwise (kind, detail) where kind is "invalid", "base" or "char" for ACLs.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

AclProblem = Optional[tuple[str, str]]

_DIGITS = frozenset("0123456789")


def _ascii_digits(text: str) -> bool:
    return bool(text) and all(c in _DIGITS for c in text)


_TYPES = {"d": "default", "default": "default", "m": "mask", "mask": "mask", "o": "other",
          "other": "other", "g": "group", "group": "group", "u": "user", "user": "user"}


def _perm_problem(perm: str) -> str | None:
    if len(perm) == 1 and perm in "01234567":
        return None
    for ch in perm:
        if ch not in "rwx-":
            return ch
    return None


class _Ace(NamedTuple):
    default: bool
    type: str
    name: str
    perm: str


def _ruby_ace(entry: str) -> _Ace | tuple[str, str]:
    """AceInfo.new(entry): the entry's parts, or the problem with it (its permissions are
    checked by the caller)."""
    parts = entry.split(":")
    if len(parts) < 2 or len(parts) > 4:
        return ("invalid", entry)
    default = False
    acl_type: str | None = None
    if len(parts) == 4:
        if parts[0] not in ("d", "default"):
            return ("invalid", entry)
        default = True
        parts = parts[1:]
    if len(parts) == 3:
        kind = _TYPES.get(parts[0])
        if kind is None or (kind == "default" and default):
            return ("invalid", entry)
        if kind == "default":
            default = True
        else:
            acl_type = kind
        parts = parts[1:]
    name, perm = parts
    if name in ("m", "mask", "o", "other") and acl_type is None:
        acl_type, name = _TYPES[name], ""
    elif name in ("m", "mask", "o", "other"):
        name = _TYPES[name]
    elif acl_type is None:
        acl_type = "user"
    if acl_type in ("mask", "other") and name:
        return ("invalid", entry)
    if not default and acl_type != "mask" and not name:
        return ("base", entry)
    return _Ace(default, acl_type or "user", name, perm)  # (it is set by now)


def ace_ruby(entry: str) -> AclProblem:
    ace = _ruby_ace(entry)
    if not isinstance(ace, _Ace):
        return ace
    bad = _perm_problem(ace.perm)
    return ("char", bad) if bad is not None else None


def ace_text_ruby(entry: str) -> str:
    """AceInfo#get_ace of a valid entry, `[default:]type:name:rwx` with `-` for what is not
    granted: what 1.x writes into install.json and passes to setfacl."""
    ace = _ruby_ace(entry)
    if not isinstance(ace, _Ace):
        raise ValueError(f"not a valid ACL entry for agent 1.x: {entry!r}")
    if len(ace.perm) == 1 and ace.perm in "01234567":
        bits = int(ace.perm)
        read, write, execute = bool(bits & 4), bool(bits & 2), bool(bits & 1)
    else:
        read, write, execute = "r" in ace.perm, "w" in ace.perm, "x" in ace.perm
    flags = ("r" if read else "-") + ("w" if write else "-") + ("x" if execute else "-")
    return f"{'default:' if ace.default else ''}{ace.type}:{ace.name}:{flags}"


def has_default_ruby(entries: tuple[str, ...]) -> bool:
    """AclInfo#get_default_ace is not nil: a `d:`/`default:` entry."""
    return any(isinstance(a, _Ace) and a.default for a in map(_ruby_ace, entries))


def ace_rust(entry: str) -> AclProblem:
    parts = entry.split(":")
    if len(parts) not in (3, 4):
        return ("invalid", entry)
    default = parts[0] in ("d", "default")
    if default:
        parts = parts[1:]
        if len(parts) < 3:
            return ("invalid", entry)
    acl_type, name, perm = parts[0], parts[1], parts[2]
    if len(perm) == 1 and perm in _DIGITS:
        if int(perm) > 7:
            return ("invalid", entry)
    else:
        bad = _perm_problem(perm)
        if bad is not None:
            return ("char", bad)
    kind = _TYPES.get(acl_type)
    if kind in ("user", "group"):
        return ("base", entry) if not name and not default else None
    if kind in ("mask", "other"):
        return ("invalid", entry) if name else None
    return ("invalid", entry)


# --- what each agent says of a bad entry (1.x and 2.x share the texts) ----------------------

def detail(problem: tuple[str, str], entry: str) -> str:
    kind, detail = problem
    if kind == "base":
        return f"{entry!r} sets a base entry; use mode for the owner, group and other bits"
    if kind == "char":
        return f"{detail!r} is not one of r, w, x, - (or a single octal digit) in {entry!r}"
    return f"{entry!r} is not [d[efault]:]type:name:perms"


_ACL = "The deployment failed because of a problem with the acls permission settings in the " \
       "application specification file."


def message(problem: tuple[str, str], entry: str) -> str:
    kind, detail = problem
    if kind == "base":
        return (f"{_ACL} Use mode to set the base acl entry ({entry}). Update the permissions "
                "section of the AppSpec file, and then try again.")
    if kind == "char":
        return (f"The deployment failed because the access control list (ACL) named {entry} in "
                f"the application specification file contains an invalid character ({detail})."
                " Correct the ACL in the hooks section of the AppSpec file, and then try again.")
    return f"{_ACL} Invalid acl entry ({entry})."



# --- SELinux MLS ranges ------------------------------------------------------------------------

def _split2(text: str, sep: str) -> list[str] | None:
    parts = text.split(sep, 1)
    return parts if all(parts) else None


def _sensitivity(text: str) -> int | None:
    rest = text[1:]
    return int(rest) if text.startswith("s") and _ascii_digits(rest) else None


def _category(text: str, rust: bool = False) -> int | None:
    rest = text[1:]
    if rust and rest.startswith("+"):  # Rust's integer parse takes one leading '+'
        rest = rest[1:]
    ok = text.startswith("c") and _ascii_digits(rest) and int(rest) <= 1023
    return int(rest) if ok else None


def range_ruby(text: str) -> str | None:
    """None if valid, else the agent's message (short form, or "range" for the long one)."""
    parts = _split2(text, ":")
    if parts is None:
        return f"invalid range part {text}"
    sens = _split2(parts[0], "-")
    if sens is None:
        return f"invalid range part {parts[0]}"
    levels: list[int] = []
    for raw in sens:
        level = _sensitivity(raw)
        if level is None:
            return f"invalid sensitivity {raw}"
        levels.append(level)
    if len(levels) == 2 and levels[1] < levels[0]:
        return "range"
    if len(parts) == 1:
        return None
    seen: list[int] = []
    for item in parts[1].rstrip(",").split(","):
        if "." in item:
            pair = _split2(item, ".")
            if pair is None:
                return f"invalid range part {item}"
        else:
            pair = [item]
        nums: list[int] = []
        for raw in pair:
            num = _category(raw)
            if num is None:
                return f"invalid category {raw}"
            nums.append(num)
        if len(nums) == 2 and nums[1] < nums[0]:
            return f"invalid category range {pair[0]}.{pair[1]}"
        seen.extend(range(nums[0], nums[-1] + 1))
    return "duplicate categories" if len(seen) != len(set(seen)) else None


def range_text_ruby(text: str) -> str:
    """RangeInfo#get_range of a valid range: `s0-s2:c0.c3,c7`, categories sorted and runs
    joined (what 1.x writes into install.json and passes to semanage)."""
    parts = text.split(":", 1)
    low, _, high = parts[0].partition("-")
    levels = [int(low[1:]), int(high[1:]) if high else int(low[1:])]
    out = f"s{levels[0]}" + (f"-s{levels[1]}" if levels[1] != levels[0] else "")
    if len(parts) == 1:
        return out
    cats: list[int] = []
    for item in parts[1].rstrip(",").split(","):
        first, _, last = item.partition(".")
        cats.extend(range(int(first[1:]), int((last or first)[1:]) + 1))
    cats.sort()
    runs: list[str] = []
    start = prev = cats[0]
    for cat in [*cats[1:], None]:
        if cat is not None and cat == prev + 1:
            prev = cat
            continue
        runs.append(f"c{start}" if start == prev else f"c{start}.c{prev}")
        if cat is not None:
            start = prev = cat
    return f"{out}:{','.join(runs)}"


def range_rust(text: str) -> bool:
    """True when 2.x accepts the range (every failure there is one long message)."""
    parts = text.split(":")
    sens = parts[0].split("-")[:2]
    levels = []
    for s in sens:
        rest = s[2:] if s.startswith("s+") else s[1:]
        if not s.startswith("s") or not _ascii_digits(rest) or int(rest) > 255:
            return False
        levels.append(int(rest))
    if len(levels) == 2 and levels[1] < levels[0]:
        return False
    if len(parts) == 1:
        return True
    for item in parts[1].split(","):
        pair = item.split(".")[:2]
        cats = [_category(c, rust=True) for c in pair]
        nums = [n for n in cats if n is not None]
        if len(nums) != len(cats) or (len(nums) == 2 and nums[1] < nums[0]):
            return False
    return True
