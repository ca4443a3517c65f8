"""`doit graph`: the workspace as a Mermaid flowchart or a Graphviz digraph.

Arrows go from a target to what it needs (the seed's convention: tail depends on head);
solid arrows are build dependencies.
"""
from __future__ import annotations

import re

from ksbuild.model import BuildGraph


def _node_id(name: str, prefix: str = "t_") -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _by_component(graph: BuildGraph):
    for component in graph.workspace.components:
        yield component, [p for p in graph.plans.values() if p.label.component == component.name]


def mermaid(graph: BuildGraph) -> str:
    lines = ["flowchart LR"]
    for component, plans in _by_component(graph):
        lines.append(f'    subgraph {_node_id(component.name, "c_")}["{component.name}"]')
        for plan in plans:
            lines.append(f'        {_node_id(plan.label.task)}["{plan.label.target}<br/><i>{plan.target.rule}</i>"]')
        lines.append("    end")
    for plan in graph.plans.values():
        for dep in plan.deps:
            lines.append(f"    {_node_id(plan.label.task)} --> {_node_id(dep.task)}")
    return "\n".join(lines) + "\n"


def dot(graph: BuildGraph) -> str:
    lines = ["digraph ksbuild {", "    rankdir=LR;", "    node [shape=box];"]
    for component, plans in _by_component(graph):
        lines.append(f'    subgraph "cluster_{component.name}" {{')
        lines.append(f'        label="{component.name}";')
        for plan in plans:
            lines.append(f'        "{plan.label.task}" [label="{plan.label.target}\\n({plan.target.rule})"];')
        lines.append("    }")
    for plan in graph.plans.values():
        for dep in plan.deps:
            lines.append(f'    "{plan.label.task}" -> "{dep.task}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}
