"""The planned graph as doit tasks: one per target (`component:target`), a group per component,
`build` (the default), `generate`, and ksbuild's own commands as tasks (`graph`)."""
from __future__ import annotations

import os
import sys

from ksbuild.cli.explain import plan_unchanged
from ksbuild.cli.reporter import RECORD_DIR
from ksbuild.errors import ConfigError
from ksbuild.exec.executor import run_target
from ksbuild.loader.graph import BuildGraph, load_graph

_GRAPHS: dict[str, BuildGraph] = {}


def graph_for(root: str) -> BuildGraph:
    """The workspace's planned graph, loaded once per process."""
    if root not in _GRAPHS:
        _GRAPHS[root] = load_graph(root)
    return _GRAPHS[root]


def prepare_state_dir(root: str) -> None:
    """`.ksbuild/` holds doit's state and the run record; it ignores itself in git."""
    directory = os.path.join(root, RECORD_DIR)
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, ".gitignore"), "w") as handle:
            handle.write("*\n")


def target_tasks(graph: BuildGraph):
    root = graph.workspace.root
    for component in graph.workspace.components:
        yield {"basename": component.name, "name": None, "doc": f"every target of component {component.name}"}
    for task, plan in graph.plans.items():
        values = {"plan": plan.digest, "parts": plan.parts, "inputs": list(plan.inputs)}
        yield {
            "basename": plan.label.component,
            "name": plan.label.target,
            "doc": plan.target.doc or f"{plan.target.rule}: {', '.join(plan.outputs[:3])}",
            "actions": [(run_target, [root, task, plan.actions, values])],
            "file_dep": list(plan.inputs),
            "targets": list(plan.outputs),
            "task_dep": [dep.task for dep in plan.deps],
            "uptodate": [(plan_unchanged, [plan.digest, plan.parts])],
            "clean": True,
            "meta": {"ksbuild": "target"},
        }


def group_tasks(graph: BuildGraph):
    everything = [task for task in graph.plans]
    yield {"basename": "build", "doc": "build every target (the default)", "actions": None,
           "task_dep": [c.name for c in graph.workspace.components]}
    yield {"basename": "generate", "doc": "(re)generate every derived file committed to git", "actions": None,
           "task_dep": [task for task in everything if graph.plans[task].generated]}


def show_graph(root: str, format: str) -> None:  # noqa: A002 (doit passes the param by name)
    from ksbuild.cli import graphview

    sys.stdout.write(graphview.FORMATS[format](graph_for(root)))


def command_tasks(graph: BuildGraph):
    root = graph.workspace.root
    yield {
        "basename": "graph",
        "doc": "print the build graph (--format mermaid|dot)",
        "actions": [(show_graph, [root])],
        "params": [{"name": "format", "long": "format", "default": "mermaid",
                    "choices": (("mermaid", "Mermaid flowchart"), ("dot", "Graphviz digraph")),
                    "help": "output format: mermaid (default) or dot"}],
        "uptodate": [False],
        "verbosity": 2,
        "meta": {"ksbuild": "command"},
    }


def all_tasks(root: str):
    """Every doit task of the workspace at `root`; a bad definition becomes doit's load error."""
    from doit.exceptions import InvalidDodoFile

    try:
        graph = graph_for(root)
    except ConfigError as err:
        raise InvalidDodoFile(f"ksbuild found {len(err.problems)} problem(s):\n{err}") from None
    prepare_state_dir(root)
    yield from target_tasks(graph)
    yield from group_tasks(graph)
    yield from command_tasks(graph)
