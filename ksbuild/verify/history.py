"""Was a stale generated file edited by hand? Only when git proves it: the change that made the file
what it is touched none of the files it is generated from, and none of them changed since. Anything
less is a forgotten regeneration (STALE), the safe thing to say."""
from __future__ import annotations

import os

from ksbuild.model import BuildGraph, TargetPlan, dir_manifest


class HandEdits:
    def __init__(self, repo, workspace_root: str, revision: str, uncommitted: tuple[str, ...], worktree: bool):
        self.repo = repo
        # Paths are literal: a file named `*.yaml` or `:x` must not act as a pathspec glob or magic.
        repo.git.update_environment(GIT_LITERAL_PATHSPECS="1")
        prefix = os.path.relpath(workspace_root, repo.working_tree_dir).replace(os.sep, "/")
        self.prefix = "" if prefix == "." else prefix + "/"
        self.revision = revision
        self.uncommitted = set(uncommitted)
        self.worktree = worktree
        self._moved: dict[tuple, bool] = {}

    def hand_edited(self, path: str, sources) -> str:
        """Why `path` is proven edited by hand, or '' when it is not. `sources`: every committed file
        that can change what the build makes of it (see transitive_sources)."""
        if self.worktree:
            if any(s in self.uncommitted for s in sources):
                return ""
            if path in self.uncommitted:
                return f"hand-edited: it has uncommitted changes, and none of its inputs do{_counted(sources)}"
            # Neither it nor its sources differ from the revision: its history there decides.
        last = self.repo.git.log("-1", "--format=%H", self.revision, "--", self.prefix + path)
        if not last or self._sources_moved(last, tuple(sources)):
            return ""
        return (f"hand-edited: commit {last[:12]} changed it without changing any of its inputs, and none changed "
                f"since{_counted(sources)}")

    def _sources_moved(self, last: str, sources: tuple[str, ...]) -> bool:
        """Did a commit from `last` on touch a source? One walk for all of them: the commits reachable
        from the revision but not from `last`'s parents (none for a root commit). Files of one target
        often share `last` (a CRD and its copy), so the answer is kept."""
        if (last, sources) not in self._moved:
            self._moved[last, sources] = bool(self.repo.git.log(
                "-1", "--format=%H", self.revision, "--not", f"{last}^@", "--", *(self.prefix + s for s in sources)))
        return self._moved[last, sources]


def _counted(sources) -> str:
    return f" (the {len(sources)} files it is built from, through every target it reads)"


def transitive_sources(graph: BuildGraph, plan: TargetPlan) -> tuple[str, ...]:
    """The committed files `plan`'s outputs are made from: its inputs, and those of every target it
    reads from, down to files no target produces; with workspace.yaml and the BUILD.yaml files that
    declare those targets. A chart rendered from a CRD directory names only the directory's manifest
    (.ksbuild/dirs/...), yet a change to the Go types behind the CRDs makes it stale."""
    producers = {}
    for other in graph.plans.values():
        producers.update({path: other for path in other.outputs})
        producers.update({directory: other for directory in other.output_dirs})
        producers.update({dir_manifest(directory): other for directory in other.output_dirs})
    sources = {"workspace.yaml"}
    seen: set[str] = set()
    todo = [plan]
    while todo:
        current = todo.pop()
        if current.label.task in seen:
            continue
        seen.add(current.label.task)
        sources.add(current.target.file)
        todo += [graph.plans[label.task] for label in current.deps if label.task in graph.plans]
        for path in current.inputs:
            producer = _producer(producers, path)
            if producer is not None:
                todo.append(producer)
            elif not path.startswith(".ksbuild/"):  # ksbuild's own state (versions...), not in git
                sources.add(path)
    # A fetched component's BUILD.yaml lives under .ksbuild/src/: not in this repository's history.
    return tuple(sorted(s for s in sources if not s.startswith(".ksbuild/")))


def _producer(producers: dict, path: str):
    """The target that makes `path`: a declared output, a directory's manifest, or a file in an owned directory."""
    parts = path.split("/")
    for end in range(len(parts), 0, -1):
        found = producers.get("/".join(parts[:end]))
        if found is not None:
            return found
    return None
