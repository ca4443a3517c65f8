"""BUILD.yaml: a component's targets, checked against the common fields and their rule's fields."""
from __future__ import annotations

import difflib
import os
import re

from ksbuild.errors import Problems
from ksbuild.loader.yamlfile import LinedList
from ksbuild.loader.schema import Field, check
from ksbuild.loader.workspace import BUILD_FILE, load_yaml
from ksbuild.model import Component, Label, Target, in_component
from ksbuild.rules import COMMON_FIELDS, FORMAT_FIELDS, RULES

TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUILD_FIELDS = (
    Field("targets", "mapping", "the component's targets, by name"),
    Field("artifacts", "mapping", "images and charts the component publishes, by name (see below)"),
    Field("references", "list", "places in files that name an artifact's version (see below)"),
)


def build_file_path(component: Component) -> str:
    if component.build_file:
        return component.build_file
    return in_component(component.path, BUILD_FILE)


def load_build_file(root: str, component: Component, problems: Problems):
    """The component's targets, artifacts and references."""
    from ksbuild.versioning import declare

    file = build_file_path(component)
    data = load_yaml(os.path.join(root, file), file)
    if not check(data, BUILD_FIELDS, file=file, line=getattr(data, "line", 1), where=BUILD_FILE,
                 problems=problems):
        return [], [], []
    return (load_targets(data, component, file, problems), declare.artifacts(data, component, file, problems),
            declare.references(data, component, file, problems))


def load_targets(data, component: Component, file: str, problems: Problems) -> list[Target]:
    entries = data.get("targets") or {}
    targets = []
    for name, spec in entries.items():
        line = entries.line_of(name)
        if not isinstance(name, str) or not TARGET_NAME.fullmatch(name):
            problems.add(file, line, f"target name {name!r} is not valid",
                         "Use letters, digits, '.', '_' and '-', starting with a letter or digit.")
            continue
        target = _target(component, file, name, spec, line, problems)
        if target is not None:
            targets.append(target)
    return targets


def _target(component: Component, file: str, name: str, spec, line: int, problems: Problems) -> Target | None:
    where = f"target {name!r}"
    if not isinstance(spec, dict):
        check(spec, (), file=file, line=line, where=where, problems=problems)
        return None
    rule_name = spec.get("rule")
    if not isinstance(rule_name, str):
        check(spec, COMMON_FIELDS, file=file, line=line, where=where, problems=problems)
        return None
    rule = RULES.get(rule_name)
    if rule is None:
        close = difflib.get_close_matches(rule_name, list(RULES), n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        problems.add(file, spec.line_of("rule"), f"{where}: unknown rule {rule_name!r}",
                     f"{hint}Known rules: {', '.join(sorted(RULES))}.")
        return None
    if not check(spec, COMMON_FIELDS + rule.fields, file=file, line=line, where=where, problems=problems):
        return None
    bad_names = [name for name in spec.get("env", {}) if not ENV_NAME.fullmatch(name)]
    if bad_names:  # the process could not even be started
        problems.add(file, spec.line_of("env"), f"{where}: env: {bad_names[0]!r} is not an environment variable name",
                     "Use letters, digits and '_', not starting with a digit.")
        return None
    steps = spec.get("format", [])
    lines = getattr(steps, "lines", [line] * len(steps))
    if not all([check(step, FORMAT_FIELDS, file=file, line=lines[index], where=f"{where}: format step {index + 1}",
                      problems=problems) for index, step in enumerate(steps)]):
        return None
    return Target(
        label=Label(component.name, name),
        rule=rule_name,
        component_dir=component.path,
        file=file,
        line=line,
        attrs=_plain(spec),
        attr_lines=_lines(spec),
        doc=spec.get("doc", ""),
    )


def _lines(spec) -> dict[str, int]:
    """Line of each field, and of each list item as `field[i]`."""
    lines = dict(spec.lines)
    for key, value in spec.items():
        if isinstance(value, LinedList):
            lines.update({f"{key}[{i}]": line for i, line in enumerate(value.lines)})
    return lines


def _plain(value):
    """Plain dicts and lists: a planned graph must not need the YAML loader to be unpickled."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
