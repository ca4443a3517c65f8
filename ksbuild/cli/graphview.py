"""`doit graph`: the workspace as a Mermaid flowchart or a Graphviz digraph.

Arrows go from a thing to what it needs (the seed's convention: tail depends on head). Solid
arrows are build dependencies (target to target, artifact to the targets it is built from); dashed
arrows are run-time references (a file naming a published artifact's version): the seed's
"amalgamated graph", drawn from the BUILD files.
"""
from __future__ import annotations

import re

from ksbuild.model import BuildGraph, Label


def _node_id(name: str, prefix: str = "t_") -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _file_id(path: str) -> str:
    return _node_id(path, "f_")


def _artifact_id(label: str) -> str:
    return _node_id(label.lstrip("/"), "a_")


def _by_component(graph: BuildGraph):
    for component in graph.workspace.components:
        plans = [p for p in graph.plans.values() if p.label.component == component.name]
        artifacts = [a for a in graph.artifacts if a.label.component == component.name]
        files = sorted({r.path for r in graph.references if r.component == component.name})
        yield component, plans, artifacts, files


def _edges(graph: BuildGraph):
    """(tail, head, dashed) node ids."""
    for plan in graph.plans.values():
        for dep in plan.deps:
            yield _node_id(plan.label.task), _node_id(dep.task), False
    for artifact in graph.artifacts:
        for text in artifact.built_from:
            label = Label.parse(text if text.startswith("//") else f"//{artifact.label.component}{text}")
            yield _artifact_id(str(artifact.label)), _node_id(label.task), False
    for pair in sorted({(r.path, r.artifact) for r in graph.references}):
        yield _file_id(pair[0]), _artifact_id(pair[1]), True


def mermaid(graph: BuildGraph) -> str:
    lines = ["flowchart LR"]
    for component, plans, artifacts, files in _by_component(graph):
        lines.append(f'    subgraph {_node_id(component.name, "c_")}["{component.name}"]')
        for plan in plans:
            lines.append(f'        {_node_id(plan.label.task)}["{plan.label.target}<br/><i>{plan.target.rule}</i>"]')
        for artifact in artifacts:
            lines.append(f'        {_artifact_id(str(artifact.label))}{{{{"{artifact.label.target}<br/>'
                         f'<i>{artifact.kind}</i>"}}}}')
        for path in files:
            lines.append(f'        {_file_id(path)}(["{path.rsplit("/", 1)[-1]}"])')
        lines.append("    end")
    for tail, head, dashed in _edges(graph):
        lines.append(f"    {tail} {'-.->' if dashed else '-->'} {head}")
    return "\n".join(lines) + "\n"


def dot(graph: BuildGraph) -> str:
    lines = ["digraph ksbuild {", "    rankdir=LR;", "    node [shape=box];"]
    for component, plans, artifacts, files in _by_component(graph):
        lines.append(f'    subgraph "cluster_{component.name}" {{')
        lines.append(f'        label="{component.name}";')
        for plan in plans:
            lines.append(f'        {_node_id(plan.label.task)} [label="{plan.label.target}\\n({plan.target.rule})"];')
        for artifact in artifacts:
            lines.append(f'        {_artifact_id(str(artifact.label))} [shape=hexagon, '
                         f'label="{artifact.label.target}\\n({artifact.kind})"];')
        for path in files:
            lines.append(f'        {_file_id(path)} [shape=note, label="{path.rsplit("/", 1)[-1]}"];')
        lines.append("    }")
    for tail, head, dashed in _edges(graph):
        lines.append(f"    {tail} -> {head}{' [style=dashed]' if dashed else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}
