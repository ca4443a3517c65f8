"""The text of the files init writes. YAML is written by hand (flow lists, a comment per target and
per tool pin, as the constellation's files read), then parsed back and compared with the data it
was made from, so that what is written is exactly what was meant."""
from __future__ import annotations

import json
import re

import yaml

from ksbuild.init.plan import Plan

DODO = "from ksbuild.dodo import *  # noqa: F401,F403\n"
_PLAIN = re.compile(r"^[A-Za-z0-9_./@~+-][A-Za-z0-9_./@~+:-]*$")


def workspace_yaml(plan: Plan) -> str:
    lines = ["# Written by `ksbuild init`: this repository is one component (`path: .`).",
             "components:", f"  {plan.component}:", "    path: .", ""]
    if plan.go:
        lines += ["# Every Go action runs with this Go release, and tools are built with it unless a pin says another.",
                  f"go: {scalar(plan.go, force_quote=True)}", ""]
    if plan.tools:
        lines.append("# Every generator the targets run, at an exact version (`ksbuild tools` installs them).")
        lines.append("tools:")
        for pin in plan.tools:
            go = f", go: {scalar(pin.go, force_quote=True)}" if pin.go else ""
            lines.append(f"  {pin.name}: {{package: {scalar(pin.package)}, version: {scalar(pin.version)}{go}}}"
                         f"  # {pin.source}")
    text = "\n".join(lines).rstrip("\n") + "\n"
    expected = {"components": {plan.component: {"path": "."}}} | ({"go": plan.go} if plan.go else {}) | (
        {"tools": {p.name: {"package": p.package, "version": p.version} | ({"go": p.go} if p.go else {})
                   for p in plan.tools}} if plan.tools else {})
    return _checked(text, expected, "workspace.yaml")


def build_yaml(plan: Plan) -> str:
    lines = ["# Written by `ksbuild init`: each target reproduces derived files committed here, and `ksbuild verify`",
             "# checks them. Images, charts to publish and version references are not inferred: see the",
             "# README of ksbuild, \"Images, and publishing them\".", "targets:"]
    for target in plan.targets:
        lines += [f"  {target.name}:  # {target.why}", f"    rule: {target.rule}"]
        for key, value in target.fields.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"    {key}:")
                lines += [f"      - {flow(item)}" for item in value]
            else:
                lines.append(f"    {key}: {flow(value)}")
    text = "\n".join(lines) + "\n"
    expected = {"targets": {t.name: {"rule": t.rule, **t.fields} for t in plan.targets}}
    return _checked(text, expected, "BUILD.yaml")


def flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(str(value))


def scalar(text: str, force_quote: bool = False) -> str:
    """Plain when YAML reads it back as this very string (in a flow collection too), else double-quoted
    (a JSON string is a YAML one)."""
    if not force_quote and _PLAIN.match(text) and yaml.safe_load(f"[{text}]") == [text]:
        return text
    return json.dumps(text)


def _checked(text: str, expected: dict, name: str) -> str:
    if yaml.safe_load(text) != expected:
        raise AssertionError(f"ksbuild init wrote {name} that does not read back as planned:\n{text}")
    return text
