"""Verify in proportion to what it checks. When the committed tree was planned exactly as the working
tree was (nothing the plan was made from differs between them), the working tree's plan is the
commit's, and the checkout needs only what the checks read: the inputs of the generated targets (and
of the Go module fetches they wait for), their committed outputs, the files that hold version
references, and the build files. Anything that may make the plans differ (an uncommitted BUILD file,
a changed file the planner read, a directory whose listing is not the commit's) checks the whole
commit, planned anew.
"""
from __future__ import annotations

import os
import posixpath

from ksbuild.model import BuildGraph
from ksbuild.rules.gofetch import is_fetch

DEFINING = ("workspace.yaml", "workspace.lock", "dodo.py")


def committed_files(repo, root: str, revision: str = "HEAD") -> set[str]:
    """Workspace-relative paths of the files `revision` holds under the workspace."""
    prefix = os.path.relpath(root, repo.working_tree_dir).replace(os.sep, "/")
    listing = repo.git.ls_tree("-r", "-z", "--name-only", "--full-tree", revision).split("\0")
    if prefix == ".":
        return set(filter(None, listing))
    return {p[len(prefix) + 1:] for p in listing if p.startswith(prefix + "/")}


def needed_paths(root: str, graph: BuildGraph, committed: set[str], uncommitted) -> set[str] | None:
    """What the checks read from the commit, or None when the working tree's plan may not be its."""
    if not _same_plan(root, graph, committed, uncommitted):
        return None
    needed = {p for p in committed if p in DEFINING or p == "BUILD.yaml" or p.endswith("/BUILD.yaml")}
    for plan in graph.plans.values():
        if plan.generated or is_fetch(plan):
            needed.update(p for p in (*plan.inputs, *plan.outputs) if p in committed)
            below = tuple(d + "/" for d in plan.output_dirs)
            if below:
                needed.update(p for p in committed if p.startswith(below))
    for ref in graph.references:
        needed.update(p for p in (ref.path, ref.values or "") if p in committed)
        directory = posixpath.dirname(ref.path)
        while directory:  # the chart whose values a template's reference resolves through
            needed.update(p for p in (f"{directory}/Chart.yaml", f"{directory}/values.yaml") if p in committed)
            directory = posixpath.dirname(directory)
    return needed


def _same_plan(root: str, graph: BuildGraph, committed: set[str], uncommitted) -> bool:
    watched = {posixpath.normpath(p) for p in graph.watched if not posixpath.isabs(p)}  # not the machine's Go
    owned = tuple(d + "/" for plan in graph.plans.values() for d in plan.output_dirs)
    for path in uncommitted:
        if path in DEFINING or path.endswith("BUILD.yaml") or path in watched \
                or (posixpath.dirname(path) or ".") in watched or path.startswith(owned):
            return False
    children: dict[str, set[str]] = {}
    for path in committed:  # what each directory lists in the commit
        parts = path.split("/")
        for depth in range(len(parts)):
            children.setdefault("/".join(parts[:depth]) or ".", set()).add(parts[depth])
    for directory in watched:
        full = os.path.join(root, directory)
        if not os.path.isdir(full):
            if os.path.lexists(full) != (directory in committed):
                return False
            continue
        try:
            listed = {name for name in os.listdir(full) if not name.startswith(".")}
        except OSError:
            return False
        if listed != {name for name in children.get(directory, ()) if not name.startswith(".")}:
            return False  # an ignored or untracked file the planner saw, or one it did not
    return True
