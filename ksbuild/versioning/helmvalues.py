"""A reference that goes through a chart's values: `ghcr.io/x/y:{{ .Values.VERSION }}` names the
version that values.yaml holds, and values.yaml's line is where to fix it.

Understood: `{{ .Values.A.B }}`, with optional `-` trims, and the pipes `| default "X"`, `| quote`;
anything else in braces cannot be resolved without rendering the chart, and is said so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ksbuild.versioning import locate

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_VALUES = re.compile(r"^\.Values\.([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)((?:\s*\|\s*(?:default\s+\S+|quote))*)$")
_DEFAULT = re.compile(r"\|\s*default\s+(\"[^\"]*\"|'[^']*'|\S+)")


class NoValue(ValueError):
    """The template cannot be resolved against the values file: the message says why."""


@dataclass(frozen=True)
class Resolved:
    value: str
    where: str  # values-file:line of the first value used ("" when only defaults were)


def resolve_values(template: str, values_file: str, read: Callable[[str], str | None]) -> Resolved:
    """`template` with each `{{ .Values.X }}` replaced by X from `values_file` (workspace-relative),
    read with `read(path) -> text or None`."""
    text = read(values_file) if values_file else None
    where = ""

    def value_of(match: re.Match) -> str:
        nonlocal where
        action = match.group(1)
        parsed = _VALUES.match(action)
        if not parsed:
            raise NoValue(f"{{{{ {action} }}}} is not a `.Values` lookup: ksbuild resolves only "
                          "`{{ .Values.X }}` (with `| default`, `| quote`) without rendering the chart")
        key, pipes = parsed.group(1), parsed.group(2)
        default = _DEFAULT.search(pipes)
        if text is not None:
            try:
                found = locate.locate(text, yaml_path=key)
                where = where or f"{values_file}:{found.line}"
                return found.value
            except locate.NotFound:
                pass
        if default:
            return default.group(1).strip("\"'")
        if text is None:
            raise NoValue(f"{template!r} needs {values_file or 'a chart values file'}, which cannot be read "
                          "(set `values:` on the reference)")
        raise NoValue(f"{values_file} has no {key} (and the template gives no default)")

    return Resolved(_ACTION.sub(value_of, template), where)
