"""Re-planning what an edit touches. When a BUILD.yaml, or a file or directory some plans were made
from, changed since the last planned graph, the components none of whose plans read it keep their
parsed BUILD.yaml and their targets' plans; only the others are parsed and planned again.

Whatever this cannot decide simply plans the whole workspace, so the result is always the one a
whole planning gives: workspace.yaml changed, a changed path no component's plans read, a changed
component whose targets, outputs, artifacts or references are not the same set as before (another
component's globs, labels or references may see them), or any problem found (its report then comes
from the whole planning, with every line). Rules that look at other components' targets beyond
their edges (a chart finds the images it names) are planned again whenever anything is.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ksbuild.loader.buildfile import build_file_path
from ksbuild.model import BuildGraph, Label, PlanMemo, TargetPlan, Workspace
from ksbuild.rules import RULES
from ksbuild.rules.gofetch import FETCH_TARGET


class NotReusable(Exception):
    """The kept plans may differ from a whole planning's: plan the whole workspace."""


@dataclass(frozen=True)
class Reuse:
    previous: BuildGraph
    clean: frozenset[str]  # components whose BUILD.yaml and plans are kept
    edited: frozenset[str] = frozenset()  # components touched only through their BUILD.yaml

    def sources(self, component: str) -> tuple:
        return self.previous.memo.sources[component]

    def plans(self, sources: dict[str, tuple]) -> dict[Label, TargetPlan]:
        """The kept plans, by label, as the planner made them (before Go module fetches were added):
        every plan of a clean component, and in a component whose BUILD.yaml alone changed, the
        plans of targets declared exactly as before, lines included (a changed target's outputs
        must stay the same, check_claims, so what the others read is the same)."""
        memo = self.previous.memo
        same = set()
        for name in self.edited:
            before = {t.label: t for t in self.sources(name)[0]}
            same |= {t.label.task for t in sources[name][0] if before.get(t.label) == t}
        kept = {}
        for task, plan in self.previous.plans.items():
            if (plan.label.component in self.clean or task in same) and task in memo.claims \
                    and not RULES[plan.target.rule].reads_workspace_targets:
                deps = tuple(d for d in plan.deps if d.target != FETCH_TARGET)
                kept[plan.label] = plan if deps == plan.deps else replace(plan, deps=deps)
        return kept

    def sources_agree(self, sources: dict[str, tuple]) -> bool:
        """The re-parsed components declare the same targets, artifacts and references as before."""
        for name, (targets, artifacts, references) in sources.items():
            if name in self.clean:
                continue
            old_targets, old_artifacts, old_references = self.sources(name)
            if {t.label for t in targets} != {t.label for t in old_targets} or list(old_artifacts) != list(artifacts) \
                    or list(old_references) != list(references):
                return False
        return True

    def unchanged(self, sources: dict[str, tuple], changed: set[str]) -> bool:
        """Only BUILD files changed, and each parses to what it did: the previous graph stands."""
        build_files = {build_file_path(c) for c in self.previous.workspace.components}
        return set(changed) <= build_files and all(sources[name] == self.sources(name) for name in sources
                                                   if name not in self.clean)

    def check_claims(self, claims: dict[str, tuple]) -> None:
        """The re-planned targets claim the same outputs as before (other components' globs saw them)."""
        old = self.previous.memo.claims
        if any(old.get(task) != paths for task, paths in claims.items()):
            raise NotReusable("a re-planned target's outputs changed")

    def memo(self, sources: dict[str, tuple], claims: dict[str, tuple], watched_by: dict[str, set[str]]) -> PlanMemo:
        """The new graph's memo: the kept components' as they were, with what was planned again."""
        old = self.previous.memo
        labels = [t.label.task for found in sources.values() for t in found[0]]
        merged = {**old.claims, **claims}
        components = set(old.watched_by) | set(watched_by)
        kept = self.clean | self.edited  # an edited component's kept plans read what they read before
        return PlanMemo(sources, {task: merged[task] for task in labels if task in merged},
                        {name: tuple(sorted(set(watched_by.get(name, ())) |
                                            set(old.watched_by.get(name, ()) if name in kept else ())))
                         for name in components})


def reusable(workspace: Workspace, previous: BuildGraph | None, changed: set[str]) -> Reuse | None:
    """What of `previous` can be kept, given the watched paths that `changed` since it was planned."""
    memo = previous.memo if previous is not None else None
    if memo is None or previous.workspace != workspace or set(memo.sources) != {c.name for c in workspace.components}:
        return None
    build_files = {build_file_path(c): c.name for c in workspace.components}
    readers: dict[str, set[str]] = {}
    for name, paths in memo.watched_by.items():
        for path in paths:
            readers.setdefault(path, set()).add(name)
    touched, through_others = set(), set()
    for path in changed:
        if path in build_files:
            touched.add(build_files[path])
        elif path in readers:
            touched |= readers[path]
            through_others |= readers[path]
        else:
            return None
    clean = frozenset(memo.sources) - touched
    edited = frozenset(touched - through_others)
    return Reuse(previous, clean, edited) if clean or edited else None


class WatchLog(set):
    """The planner's watched paths, each also filed under the component whose target was being
    resolved or planned when it was read (`current()`, None outside any target)."""

    def __init__(self, current):
        super().__init__()
        self._current = current
        self.by_component: dict[str, set[str]] = {}

    def add(self, path: str) -> None:
        super().add(path)
        name = self._current()
        if name is not None:
            self.by_component.setdefault(name, set()).add(path)

    def update(self, *groups) -> None:
        for group in groups:
            for path in group:
                self.add(path)
