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
        if plans or artifacts or files:
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


def around(graph: BuildGraph, names: list[str], deps: bool, rdeps: bool) -> BuildGraph:
    """The part of the graph around the named targets (tasks, or a component's name for all of its
    targets): with `deps` what they need, with `rdeps` what needs them, both transitively."""
    components = {c.name for c in graph.workspace.components}
    chosen = {task for task, plan in graph.plans.items()
              if task in names or plan.label.component in names or "build" in names}
    needs = {task: {dep.task for dep in plan.deps} for task, plan in graph.plans.items()}
    needed_by: dict[str, set[str]] = {}
    for task, found in needs.items():
        for dep in found:
            needed_by.setdefault(dep, set()).add(task)
    for wanted, edges in ((deps, needs), (rdeps, needed_by)):
        pending = list(chosen) if wanted else []
        reached = set(chosen)
        while pending:
            for nxt in edges.get(pending.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    pending.append(nxt)
        chosen |= reached
    plans = {task: plan for task, plan in graph.plans.items() if task in chosen}
    kept = {plan.label.component for plan in plans.values()} & components
    artifacts = tuple(a for a in graph.artifacts if a.label.component in kept)
    labels = {str(a.label) for a in artifacts}
    references = tuple(r for r in graph.references if r.artifact in labels and r.component in kept)
    return BuildGraph(graph.workspace, plans, graph.watched, artifacts, references)


FORMATS = {"mermaid": mermaid, "dot": dot}
