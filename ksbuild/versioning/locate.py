"""Finding a reference's value in a file: a YAML path (`spec.containers[0].image`) or a regular
expression with a group named `value`. Both give the value, its line, and where its text is, so
stamping can replace exactly that text and leave the rest of the file byte for byte."""
from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class NotFound(ValueError):
    """The locator does not match: the message says how far it got."""


@dataclass(frozen=True)
class Located:
    value: str
    line: int
    start: int  # character offsets of the value's text (quotes included for a quoted YAML scalar)
    end: int


def locate(text: str, yaml_path: str = "", regex: str = "") -> Located:
    return _by_yaml(text, yaml_path) if yaml_path else _by_regex(text, regex)


def _by_regex(text: str, regex: str) -> Located:
    match = re.search(regex, text, re.MULTILINE)
    if not match or match.group("value") is None:
        raise NotFound(f"no match for /{regex}/")
    start, end = match.span("value")
    return Located(match.group("value"), text.count("\n", 0, start) + 1, start, end)


def _by_yaml(text: str, path: str) -> Located:
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise NotFound(f"the file is not valid YAML ({err.__class__.__name__})") from None
    walked = []
    for key, index in _STEP.findall(path):
        step = key if key else f"[{index}]"
        if key and isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
        else:
            node = None
        walked.append(step)
        if node is None:
            raise NotFound(f"no {''.join(w if w.startswith('[') or not i else '.' + w for i, w in enumerate(walked))}"
                           " in the file")
    if not isinstance(node, yaml.ScalarNode):
        raise NotFound(f"{path} is not a single value")
    return Located(node.value, node.start_mark.line + 1, node.start_mark.index, node.end_mark.index)


def replace(text: str, found: Located, new_value: str) -> str:
    """`text` with the located value replaced (inside its quotes, if it had any)."""
    span = text[found.start:found.end]
    return text[:found.start] + span.replace(found.value, new_value, 1) + text[found.end:]
