"""YAML that remembers line numbers, so every error can say file:line.

libyaml (PyYAML's C parser) does the parsing; mappings and lists come back as dict and list
subclasses that carry the line of each key and item.
"""
from __future__ import annotations

import re

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


class _DuplicateKey(Exception):
    def __init__(self, key, line: int, first_line: int):
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


_STR = "tag:yaml.org,2002:str"
_scalars = yaml.constructor.SafeConstructor()  # typed scalars (bool, int, null...) only


def _convert(node):
    """Composed nodes (libyaml's work) to plain values, mappings and lists keeping their lines;
    cheaper than PyYAML's generic constructor, which matters for a thousand targets."""
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else _scalars.construct_object(node)
    if isinstance(node, yaml.SequenceNode):
        result = LinedList()
        result.line = node.start_mark.line + 1
        result.extend(_convert(item) for item in node.value)
        result.lines = [item.start_mark.line + 1 for item in node.value]
        return result
    _scalars.flatten_mapping(node)  # `<<` merge keys
    mapping = LinedDict()
    mapping.line = node.start_mark.line + 1
    lines = mapping.lines
    for key_node, value_node in node.value:
        key = _convert(key_node)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise _DuplicateKey(key, line, lines[key])
        mapping[key] = _convert(value_node)
        lines[key] = line
    return mapping


def parse(text: str, file: str):
    """Parse one YAML document; an empty file is an empty mapping. Hostile shapes (an alias bomb,
    nesting that would exhaust the parser's recursion) are refused before any tree is built."""
    if _may_be_hostile(text):
        from ksbuild.loader.yamlguard import shape_fault

        fault = shape_fault(text)
        if fault:
            raise ConfigError.one(file, fault[0], f"refused: {fault[1]}",
                                  "Write the file without deep nesting or alias expansion.")
    try:
        node = yaml.compose(text, Loader=_BaseLoader)
        data = None if node is None else _convert(node)
    except _DuplicateKey as dup:
        raise ConfigError.one(file, dup.line, f"duplicate key {dup.key!r} (first at line {dup.first_line})",
                              "Each key may appear once in a mapping; merge the two entries.") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 0
        what = " ".join(filter(None, [err.context, err.problem]))
        raise ConfigError.one(file, line, f"YAML syntax error: {what}",
                              "Fix the YAML syntax (indentation, quoting, a missing ':').") from None
    except RecursionError:
        raise ConfigError.one(file, 0, "refused: YAML nested too deep", "Write the file without deep nesting.") \
            from None
    except TypeError as err:  # an unhashable key, such as a mapping used as a key
        raise ConfigError.one(file, 0, f"YAML error: {err}", "Keys must be plain strings.") from None
    except yaml.YAMLError as err:
        raise ConfigError.one(file, 0, f"YAML error: {err}", "Fix the YAML syntax.") from None
    if data is None:
        data = LinedDict()
        data.line = 1
    return data


_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s\[\]{},]")


def _may_be_hostile(text: str) -> bool:
    """Anchors or aliases: only then is the event stream walked first (a cost on every re-plan
    otherwise). Deep nesting without them ends in a RecursionError, which `parse` reports."""
    return _ANCHOR_OR_ALIAS.search(text) is not None


def load(path: str, display: str):
    """Read and parse `path`; errors name it as `display` (the workspace-relative path)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ConfigError.one(display, 0, f"cannot read: {err.strerror}",
                              "Create the file or fix the path that names it.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError.one(display, line, f"not UTF-8 text (byte {data[err.start]:#04x})",
                              "Save the file as UTF-8.") from None
    return parse(text, display)
