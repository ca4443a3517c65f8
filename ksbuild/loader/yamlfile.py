"""YAML that remembers line numbers, so every error can say file:line.

libyaml (PyYAML's C parser) does the parsing; mappings and lists come back as dict and list
subclasses that carry the line of each key and item.
"""
from __future__ import annotations

import yaml

from ksbuild.errors import ConfigError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LinedDict(dict):
    """A mapping with `line` (where it starts) and `lines[key]` (where each key is)."""

    line = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict = {}

    def line_of(self, key) -> int:
        return self.lines.get(key, self.line)


class LinedList(list):
    """A sequence with `line` (where it starts) and `lines[i]` (where item i is)."""

    line = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class _Loader(_BaseLoader):
    """The safe loader with line-keeping containers and duplicate keys rejected."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LinedDict:
    loader.flatten_mapping(node)
    result = LinedDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result:
            raise _DuplicateKey(key, line, result.lines[key])
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = line
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LinedList:
    result = LinedList()
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.lines.append(item.start_mark.line + 1)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


class _DuplicateKey(Exception):
    def __init__(self, key, line: int, first_line: int):
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


def parse(text: str, file: str):
    """Parse one YAML document; an empty file is an empty mapping."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except _DuplicateKey as dup:
        raise ConfigError.one(file, dup.line, f"duplicate key {dup.key!r} (first at line {dup.first_line})",
                              "Each key may appear once in a mapping; merge the two entries.") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 0
        what = " ".join(filter(None, [err.context, err.problem]))
        raise ConfigError.one(file, line, f"YAML syntax error: {what}",
                              "Fix the YAML syntax (indentation, quoting, a missing ':').") from None
    except yaml.YAMLError as err:
        raise ConfigError.one(file, 0, f"YAML error: {err}", "Fix the YAML syntax.") from None
    if data is None:
        data = LinedDict()
        data.line = 1
    return data


def load(path: str, display: str):
    """Read and parse `path`; errors name it as `display` (the workspace-relative path)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError.one(display, 0, f"cannot read: {err.strerror}",
                              "Create the file or fix the path that names it.") from None
    return parse(text, display)
