"""From targets to a planned graph: outputs owned once, srcs resolved, dependencies found,
cycles refused, and every target planned into actions by its rule."""
from __future__ import annotations

import os
import posixpath
from dataclasses import replace

from ksbuild.errors import ConfigError, Problems
from ksbuild.loader.buildfile import build_file_path, load_build_file
from ksbuild.loader.context import LoaderContext
from ksbuild.loader.globs import GLOB_CHARS, glob_regex, reaches
from ksbuild.loader.implicit import action_only_inputs, go_package_files, kustomized_files
from ksbuild.loader.order import report_cycle, topological_order
from ksbuild.loader.outputs import OutputClaims
from ksbuild.loader.replan import NotReusable, Reuse, WatchLog, reusable
from ksbuild.loader.workspace import load_workspace
from ksbuild.model import (BuildGraph, Label, PlanMemo, Target, TargetPlan, Workspace, action_parts, digest_of,
                           dir_manifest)
from ksbuild.rules import RULES, Inputs
from ksbuild.rules.gofetch import add_module_fetches


def load_graph(root: str, previous: BuildGraph | None = None, changed: set[str] | frozenset = frozenset()) -> BuildGraph:
    """Load, validate and plan the whole workspace; raises ConfigError listing every problem. With
    the `previous` graph and the watched paths `changed` since, what they cannot have changed is kept
    (loader.replan); the result is the same."""
    workspace = load_workspace(root)
    reuse = reusable(workspace, previous, set(changed))
    problems = Problems()
    sources = {c.name: reuse.sources(c.name) if reuse and c.name in reuse.clean
               else load_build_file(workspace.root, c, problems) for c in workspace.components}
    problems.raise_if_any()
    if reuse and reuse.unchanged(sources, changed):
        return previous  # only BUILD files changed, and they say what they said (a comment, a blank line)
    if reuse and reuse.sources_agree(sources):
        try:
            return _plan_workspace(workspace, sources, reuse)
        except (ConfigError, NotReusable):
            pass  # planned whole: the same result, and a problem reported with every line
    return _plan_workspace(workspace, sources, None)


def _plan_workspace(workspace: Workspace, sources: dict[str, tuple], reuse: Reuse | None) -> BuildGraph:
    targets = [t for found in sources.values() for t in found[0]]
    artifacts = [a for found in sources.values() for a in found[1]]
    references = [r for found in sources.values() for r in found[2]]
    planner = _Planner(workspace, targets, reuse.plans(sources) if reuse else {},
                       reuse.previous.memo.claims if reuse else {})
    planner.artifacts = {a.label: a for a in artifacts}
    planner.references = references
    planner.watched.update([workspace.file] + [build_file_path(c) for c in workspace.components])
    fetched = [f"{c.path}/.git/HEAD" for c in workspace.components if c.path.startswith(".ksbuild/src/")]
    if fetched:  # a moved checkout, or an edited lock, is checked again
        planner.watched.update(fetched + ["workspace.lock"])
    graph = planner.run()
    if reuse:
        reuse.check_claims(planner.claims)
    graph = add_module_fetches(graph, planner.context)
    planner.problems.raise_if_any()
    from ksbuild.versioning.plan import plan_versioning

    memo = reuse.memo(sources, planner.claims, planner.watched.by_component) if reuse else \
        PlanMemo(sources, dict(planner.claims), {c: tuple(sorted(p)) for c, p in planner.watched.by_component.items()})
    watched = set(planner.watched).union(*memo.watched_by.values())
    graph = replace(graph, watched=tuple(sorted(watched)), memo=memo)
    return plan_versioning(graph, artifacts, references, planner)


class _Planner(OutputClaims):
    def __init__(self, workspace: Workspace, targets: list[Target], reused: dict[Label, TargetPlan],
                 reused_claims: dict[str, tuple]):
        self.root = workspace.root
        self.workspace = workspace
        self.targets = {t.label: t for t in targets}
        self.components = {c.name for c in workspace.components}
        self.problems = Problems()
        self.owner: dict[str, tuple[Target, str]] = {}  # output path -> (target, field)
        self.outputs: dict[Label, tuple[str, ...]] = {}
        self.srcs: dict[Label, tuple[str, ...]] = {}
        self.src_dirs: dict[Label, tuple[str, ...]] = {}  # owned directories read whole
        self.has_owned_dirs = True  # until all outputs are claimed
        self.edges: dict[Label, dict[Label, int]] = {t.label: {} for t in targets}  # dep -> line
        self._resolving: list[Label] = []
        # directories whose listing the plan depends on, and the build files, by component too
        self.watched = WatchLog(self._current_component)
        self._planning: Label | None = None
        self.reused = reused  # label -> the plan kept from the last graph (loader.replan)
        self._reused_claims = reused_claims
        self.claims: dict[str, tuple[tuple[str, str], ...]] = {}  # task -> outputs claimed (path, attribute)
        self._handwritten: dict[str, bool] = {}
        self._manifests: dict[str, set[str]] = {}
        self.context = LoaderContext(self)
        self.artifacts: dict = {}  # Label -> versioning.declare.Artifact
        self.references: list = []  # versioning.declare.Reference, as declared
        self.below: dict[str, tuple[Target, str]] = {}  # directory every output path goes through -> a path's owner
        self.real_root = os.path.realpath(self.root)
        self.real_root_slash = self.real_root.rstrip("/") + "/"
        self._above: dict[str, str] = {}  # directory -> the file in its place, if any (see _file_above)
        self.build_files = {build_file_path(c) for c in workspace.components}
        self._real_dirs: dict[str, str] = {}

    def run(self) -> BuildGraph:
        for target in self.targets.values():
            if target.label in self.reused:
                self._restore_claims(target, self._reused_claims[target.label.task])
            elif not RULES[target.rule].outputs_follow_srcs:
                self._claim(target, RULES[target.rule].declare_outputs(target))
        for target in self.targets.values():
            self._outputs_of(target)
        self.has_owned_dirs = any(path.endswith("/") for path in self.owner)
        for target in self.targets.values():
            if target.label not in self.reused:
                self._srcs_of(target)
        for label, plan in self.reused.items():
            self.edges[label].update((dep, plan.target.line) for dep in plan.deps)
        dep_outputs = {label: self._explicit_deps(t) for label, t in self.targets.items()}
        self.problems.raise_if_any()
        order = topological_order(self.targets, self.edges, self.problems)
        plans = {}
        for label in order:
            self._planning = label
            plans[label.task] = self.reused.get(label) or self._plan(self.targets[label], dep_outputs[label])
        self._planning = None
        self.problems.raise_if_any()
        return BuildGraph(self.workspace, plans, tuple(sorted(self.watched)))

    def _current_component(self) -> str | None:
        """The component whose target is being resolved or planned (what a watched path is filed under)."""
        label = self._resolving[-1] if self._resolving else self._planning
        return label.component if label else None

    # outputs ---------------------------------------------------------------------------------
    def _outputs_of(self, target: Target) -> tuple[str, ...]:
        rule = RULES[target.rule]
        if target.label in self.outputs:
            return self.outputs[target.label]
        if rule.outputs_follow_srcs:
            if target.label in self._resolving:
                self.outputs[target.label] = ()
                return ()  # the cycle is reported by _srcs_of
            srcs = self._srcs_of(target)
            self._claim(target, rule.declare_outputs(target, srcs))
        return self.outputs.setdefault(target.label, ())

    # srcs ------------------------------------------------------------------------------------
    def _srcs_of(self, target: Target) -> tuple[str, ...]:
        if target.label in self.srcs:
            return self.srcs[target.label]
        self._resolving.append(target.label)
        found: list[str] = []
        entries = [(entry, target.line_of("srcs", index), "srcs")
                   for index, entry in enumerate(target.attrs.get("srcs", []))]
        rule = RULES[target.rule]
        entries += [(entry, target.line_of(attr), f"{attr} (rule {target.rule} reads it)")
                    for entry, attr in rule.implicit_srcs(target) + rule.context_srcs(target, self.context)]
        own = set(self.outputs.get(target.label, ()))  # known unless the outputs follow the srcs (copy)
        for entry, line, what in entries:
            if entry.startswith((":", "//")):
                label = self._label(target, entry, line, "srcs")
                if label is not None:
                    found.extend(self._label_outputs(target, label, line))
                continue
            paths = self._paths(target, entry, line, what)
            if paths and not GLOB_CHARS.search(entry) and (paths[0] in own or self._made_by(target, paths[0])):
                self.problems.add(target.file, line, f"{target.label}: {what}: {entry!r} is also an output of "
                                  "the target", "A target cannot rewrite its own input; write the result to "
                                  "another file.")
                continue
            found.extend(paths)
        implicit = go_package_files(self, target) + kustomized_files(self, target)
        found.extend(self._inside_workspace(target, implicit, target.line, "an input found from the rule's files"))
        self._resolving.pop()
        found = [p for p in dict.fromkeys(found) if p not in own and not self._made_by(target, p)]
        files, dirs = self._split_owned_dirs(target, found)
        for path in files + [d + "/" for d in dirs]:
            producer = self.producer(path)
            if producer and producer.label != target.label:
                self.edges[target.label].setdefault(producer.label, target.line_of("srcs"))
        self.srcs[target.label] = tuple(files)
        self.src_dirs[target.label] = tuple(dirs)
        return self.srcs[target.label]

    def _label_outputs(self, target: Target, label: Label, line: int) -> tuple[str, ...]:
        if label in self._resolving:
            cycle = self._resolving[self._resolving.index(label):] + [label]
            report_cycle(self.targets, cycle, self.problems)
            return ()
        self.edges[target.label].setdefault(label, line)
        return self._outputs_of(self.targets[label])

    def _paths(self, target: Target, entry: str, line: int, what: str = "srcs") -> list[str]:
        normal = posixpath.normpath(entry)
        if posixpath.isabs(entry) or normal == ".." or normal.startswith("../"):
            self.problems.add(target.file, line, f"{target.label}: srcs entry {entry!r} leaves the component",
                              "Name files inside the component; use a label (//component:target) "
                              "for another component's outputs.")
            return []
        pattern = target.path(normal)
        if GLOB_CHARS.search(entry):
            if ".." in entry.split("/"):  # `*/..` is not what normpath makes of it: refuse, never guess
                self.problems.add(target.file, line, f"{target.label}: {what}: glob {entry!r} holds '..'",
                                  "Write the glob without '..': it matches files below the component only.")
                return []
            outside: list[str] = []
            matches = self.glob_paths(pattern, outside)
            for path in outside:
                self._report_outside(target, path, line, what)
            if not matches and not outside:
                self.problems.add(target.file, line, f"{target.label}: {what}: glob {entry!r} matches no file",
                                  "Fix the pattern, or remove it if the files are gone.")
            return matches
        if self.producer(pattern):
            return [pattern]  # another target writes it: the plan does not depend on it being there now
        self.watched.add(posixpath.dirname(pattern) or ".")  # a source's deletion must be noticed
        if os.path.isfile(os.path.join(self.root, pattern)):
            return self._inside_workspace(target, [pattern], line, what)
        self.problems.add(target.file, line, f"{target.label}: {what}: file {entry!r} does not exist "
                          "and no target produces it", f"Create {pattern}, or fix the path.")
        return []

    def _inside_workspace(self, target: Target, paths: list[str], line: int, what: str) -> list[str]:
        """`paths` without the sources a symbolic link takes out of the workspace, each reported."""
        kept = []
        for path in paths:
            if not path.endswith("/") and self.producer(path) is None and self.escapes(path):
                self._report_outside(target, path, line, what)
            else:
                kept.append(path)
        return kept

    def _report_outside(self, target: Target, path: str, line: int, what: str) -> None:
        self.problems.add(target.file, line, f"{target.label}: {what}: {path!r} leads out of the workspace "
                          f"through a symbolic link (to {self.escapes(path)})",
                          "Inputs are files inside the workspace: replace the link by the file, or remove it.")

    def glob_paths(self, pattern: str, outside: list[str] | None = None) -> list[str]:
        """Files on disk and declared outputs matching `pattern`; hidden names and .ksbuild/ are
        skipped. The directories walked are watched: their listing decides the result. A file (or the
        glob's fixed directory) that a symbolic link takes out of the workspace is never a match: it
        goes to `outside`. Symbolic links to directories are never followed."""
        segments = pattern.split("/")
        fixed = next((i for i, seg in enumerate(segments) if GLOB_CHARS.search(seg)), None)
        if fixed is None:  # nothing to expand
            return [pattern] if os.path.isfile(os.path.join(self.root, pattern)) else []
        prefix = "/".join(segments[:fixed]) or "."
        max_depth = None if "**" in pattern else len(segments) - fixed - 1
        matcher = glob_regex(pattern)
        found = set()
        top = os.path.join(self.root, prefix)
        walk = os.walk(top)
        if prefix != "." and self.escapes(prefix):
            if outside is not None:
                outside.append(prefix)
            walk = ()  # never walked
        for current, dirs, files in walk:
            below = os.path.relpath(current, top).replace(os.sep, "/")
            relative = posixpath.normpath(posixpath.join(prefix, below))
            self.watched.add(relative)
            depth = 0 if below == "." else below.count("/") + 1
            if max_depth is not None and depth >= max_depth:
                dirs[:] = []
            else:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = name if relative == "." else f"{relative}/{name}"
                if not name.startswith(".") and matcher.match(path):
                    if os.path.islink(os.path.join(current, name)) and self.escapes(path):
                        if outside is not None:
                            outside.append(path)
                        continue
                    found.add(path)
        found.update(p for p in self.owner if matcher.match(p))
        found.update(d for d in self.owner if d.endswith("/") and reaches(prefix, d, "**" in pattern))
        return sorted(found)

    # deps ------------------------------------------------------------------------------------
    def _label(self, target: Target, text: str, line: int, attr: str) -> Label | None:
        if text.startswith(":"):
            component, name = target.label.component, text[1:]
        else:
            component, _, name = text[2:].partition(":")
        label = Label(component, name)
        if not name or label not in self.targets:
            hint = ("No component of that name in workspace.yaml." if component not in self.components
                    else f"Targets of {component}: {', '.join(sorted(l.target for l in self.targets if l.component == component)) or 'none'}.")
            self.problems.add(target.file, line, f"{target.label}: {attr} names unknown target {text!r}",
                              f"Write ':target' or '//component:target'. {hint}")
            return None
        if label == target.label:
            self.problems.add(target.file, line, f"{target.label}: {attr} names the target itself",
                              "Remove the self-reference.")
            return None
        return label

    def _explicit_deps(self, target: Target) -> tuple[str, ...]:
        found: list[str] = []
        entries = target.attrs.get("deps", [])
        for index, entry in enumerate(entries):
            line = target.line_of("deps", index)
            label = self._label(target, entry, line, "deps")
            if label is not None:
                self.edges[target.label].setdefault(label, line)
                found.extend(self.outputs.get(label, ()))
        return tuple(dict.fromkeys(found))

    # planning --------------------------------------------------------------------------------
    def _plan(self, target: Target, dep_outputs: tuple[str, ...]) -> TargetPlan:
        rule = RULES[target.rule]
        srcs = self._srcs_of(target)
        declared = self.outputs[target.label]
        outputs = tuple(p for p in declared if not p.endswith("/"))
        output_dirs = tuple(p.rstrip("/") for p in declared if p.endswith("/"))
        dep_files = tuple(p for p in dep_outputs if not p.endswith("/"))
        dirs = tuple(dict.fromkeys(self.src_dirs[target.label] + tuple(p.rstrip("/") for p in dep_outputs
                                                                          if p.endswith("/"))))
        inputs = Inputs(srcs=srcs, dep_outputs=dep_files, dirs=dirs)
        if dirs and not rule.reads_dirs:
            self.context.problem(target, "srcs", f"rule {rule.name} cannot read {dirs[0]}/, a directory "
                            f"{self.producer(dirs[0] + '/').label} owns",
                            "Read it with a rule that takes whole directories (command, kustomize_build, ...).")
        actions = self.context.finish(target, rule.owned_marker, rule.plan(target, inputs, self.context))
        if not declared and not any(p.message.startswith(f"{target.label}:") for p in self.problems.items):
            attr = "outs" if "outs" in target.attrs else "rule"
            self.problems.add(target.file, target.line_of(attr), f"{target.label}: declares no output: a target "
                              "must produce something", "Name the files it writes (for `command`, in `outs`).")
        clash = sorted(set(inputs.all) & set(outputs))
        if clash:
            self.problems.add(target.file, target.line_of("srcs"),
                              f"{target.label}: {clash[0]!r} is both an input and an output",
                              "A target cannot rewrite its own input; write the result to another file.")
        file_deps = inputs.all + tuple(dir_manifest(d) for d in dirs) + action_only_inputs(actions, inputs.all)
        parts = {"rule": f"{rule.name}@{rule.version}", "inputs": digest_of(list(file_deps)),
                 "outputs": digest_of(list(declared)),
                 **action_parts(actions, self.context.toolchain_identity(actions))}
        return TargetPlan(target=target, rule_version=rule.version, actions=actions, inputs=file_deps,
                          outputs=outputs, output_dirs=output_dirs, deps=tuple(sorted(self.edges[target.label])),
                          generated=rule.commits_outputs, parts=parts)
