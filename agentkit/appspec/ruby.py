"""Ruby conversions the 1.x agent applies to YAML values, reproduced for Python values.

The Ruby agent interpolates values into its messages with `#{}` (to_s) and converts timeouts
with `to_i`; both differ from Python's str()/int() in ways users see (nil is "", 2.9 is 2,
"30s" is 30, true has no to_i at all).
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

# Ruby's String#to_i: ASCII whitespace, an optional sign, ASCII digits with single underscores.
_LEADING_INT = re.compile(r"[ \t\n\v\f\r]*([-+]?[0-9](?:_?[0-9])*)")


class NoMethod(Exception):
    """The Ruby call would raise NoMethodError (e.g. `true.to_i`)."""


def file_join(base: str, path: str) -> str:
    """Ruby's File.join(base, path) as the agent uses it for sources and hook locations: a
    leading `/` of path stays inside base, duplicate slashes collapse, nothing else is
    normalised (`..` stays)."""
    return re.sub(r"/+", "/", f"{base}/{path}")


def to_i(value: Any) -> int:
    """Ruby's `value.to_i` for what Psych can produce from YAML."""
    if value is None:
        return 0  # nil.to_i
    if isinstance(value, bool):
        raise NoMethod(f"undefined method `to_i' for {inspect(value)}:{ruby_class(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise NoMethod(to_s(value))  # FloatDomainError's message is just the value
        return int(value)  # truncates toward zero, as Float#to_i does
    if isinstance(value, str):
        m = _LEADING_INT.match(value)
        return int(m.group(1).replace("_", "")) if m else 0
    raise NoMethod(f"undefined method `to_i' for {inspect(value)}:{ruby_class(value)}")


def ruby_class(value: Any) -> str:
    if value is None:
        return "NilClass"
    if isinstance(value, bool):
        return "TrueClass" if value else "FalseClass"
    for py, rb in ((int, "Integer"), (float, "Float"), (str, "String"), (list, "Array"),
                   (dict, "Hash"), (datetime.datetime, "Time"), (datetime.date, "Date")):
        if isinstance(value, py):
            return rb
    return type(value).__name__


def _float_to_s(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e16:
        return f"{int(value)}.0" if value != 0 or math.copysign(1, value) > 0 else "-0.0"
    text = repr(value)
    if "e" in text:  # Ruby writes 1.0e+20 where Python writes 1e+20
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{exp.lstrip('+-').rjust(2, '0')}"
    return text


def to_s(value: Any) -> str:
    """Ruby's `"#{value}"`."""
    if value is None:
        return ""
    if isinstance(value, (list, dict, bool)):
        return inspect(value)
    if isinstance(value, float):
        return _float_to_s(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %z").strip()
    return str(value)


def inspect(value: Any) -> str:
    """Ruby's `value.inspect` (Ruby 3.1 Hash syntax)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value).__name__ == "RubySymbol":
        return f":{value}"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{inspect(k)}=>{inspect(v)}" for k, v in value.items()) + "}"
    return to_s(value)
