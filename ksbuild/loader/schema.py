"""Tables of allowed fields, and the one checker that holds YAML mappings to them."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ksbuild.errors import Problems
from ksbuild.loader.yamlfile import LinedDict

# kind -> (description for messages and docs, check)
_KINDS = {
    "string": ("a string", lambda v: isinstance(v, str) and v != ""),
    "text": ("a string", lambda v: isinstance(v, str)),
    "strings": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(i, str) and i for i in v)),
    "argv": ("a non-empty list of strings", lambda v: isinstance(v, list) and v and all(isinstance(i, str) for i in v)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "string_map": ("a mapping of strings to strings",
                   lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())),
    "mapping": ("a mapping", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    doc: str
    required: bool = False

    @property
    def kind_text(self) -> str:
        return _KINDS[self.kind][0]


def type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        if not value:
            return "an empty list"
        odd = next((item for item in value if not isinstance(item, str) or not item), None)
        if odd is not None or "" in value:
            return f"a list holding {type_name(odd)} (quote it to make it a string)"
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def check(mapping: Any, fields: tuple[Field, ...], *, file: str, line: int, where: str,
          problems: Problems) -> bool:
    """Report unknown keys, missing required fields and wrong types; True when all is well."""
    if not isinstance(mapping, dict):
        problems.add(file, line, f"{where} must be a mapping, not {type_name(mapping)}",
                     "Write it as `key: value` lines.")
        return False
    ok = True
    allowed = {f.name: f for f in fields}
    for key in mapping:
        if key not in allowed:
            ok = False
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            problems.add(file, _line(mapping, key), f"unknown key {key!r} in {where}",
                         f"{hint}Allowed keys: {', '.join(sorted(allowed))}.")
    for spec in fields:
        if spec.name not in mapping:
            if spec.required:
                ok = False
                problems.add(file, line, f"{where} is missing required field {spec.name!r}",
                             f"Add `{spec.name}:` ({spec.kind_text}): {spec.doc}")
            continue
        value = mapping[spec.name]
        if not _KINDS[spec.kind][1](value):
            ok = False
            problems.add(file, _line(mapping, spec.name),
                         f"{where}: field {spec.name!r} must be {spec.kind_text}, not {type_name(value)}",
                         f"{spec.name}: {spec.doc}")
        elif spec.kind not in ("mapping", "list") and _holds_nul(value):  # those are checked item by item
            ok = False
            problems.add(file, _line(mapping, spec.name), f"{where}: field {spec.name!r} holds a NUL character",
                         "No path, command, argument or name can hold one: remove the \\0.")
    return ok


def _holds_nul(value: Any) -> bool:
    """A NUL character anywhere in a string of `value` (a `"\\0"` escape): no file name, argument or
    environment variable can carry one, so it would only fail later, far from its line."""
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _line(mapping: Any, key: Any) -> int:
    return mapping.line_of(key) if isinstance(mapping, LinedDict) else 0

