"""Bounds on hostile YAML, checked before anything builds a tree: nesting (the parsers recurse) and
the node count once aliases are expanded (a few hundred bytes of aliases can expand to billions of
nodes). Works on libyaml's event stream, which does not recurse and expands nothing."""
from __future__ import annotations

import yaml

MAX_NESTING = 100  # YAML collections nested deeper are refused
MAX_NODES = 100_000  # YAML nodes after expanding aliases


def shape_fault(text: str) -> tuple[int, str] | None:
    """(line, message) when the YAML nests too deep or expands to too many nodes through aliases;
    checked on libyaml's event stream, which does not recurse, before anything builds the tree."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    open_sizes: list[list] = []  # per open collection: [its nodes so far, its anchor]
    anchors: dict[str, int] = {}  # complete anchored nodes: their expanded size
    total = 0  # nodes of the document once aliases are expanded
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(open_sizes) >= MAX_NESTING:
                    return line, f"YAML nested more than {MAX_NESTING} deep"
                open_sizes.append([1, event.anchor])
                total += 1
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                size, anchor = open_sizes.pop()
            elif isinstance(event, yaml.ScalarEvent):
                size, anchor = 1, event.anchor
                total += 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    return line, f"alias *{event.anchor} names no complete anchor (a recursive alias?)"
                size, anchor = anchors[event.anchor], None
                total += size
            else:
                continue
            if anchor is not None:
                anchors[anchor] = size
            if open_sizes:
                open_sizes[-1][0] += size
            if total > MAX_NODES:
                return line, f"YAML expands to more than {MAX_NODES} nodes through aliases"
    except yaml.YAMLError:
        return None  # a syntax error: yamlfile.parse reports it with its line
    return None
