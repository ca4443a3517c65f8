"""The planned graph as doit tasks: one per target (`component:target`), a group per component,
`build` (the default), `generate`, and ksbuild's own commands as tasks (`graph`)."""
from __future__ import annotations

import functools
import inspect
import os

from ksbuild import state
from ksbuild.cli.commandline import COMMANDS
from ksbuild.cli.commands import (collect_garbage, explain_tasks, install_tool, load, publish, publish_gate, push,
                                  show_graph, show_tools, show_versions, write_report)
from ksbuild.cli.clean import clean_outputs
from ksbuild.cli.explain import plan_change
from ksbuild.errors import ConfigError
from ksbuild.loader.plancache import load_graph_cached
from ksbuild.model import FETCH_RULE, IMAGE_RULES, BuildGraph, digest_of, dir_manifest
from ksbuild.verify.command import verify

_GRAPHS: dict[str, BuildGraph] = {}
_KEPT: dict[str, set[str]] = {}  # root -> targets left out of doit's work: proved unchanged (known_up_to_date)
_VERSIONS: dict[str, tuple] = {}  # root -> versions_with_sources: one run, one reading of git


def run_target(*args):
    """doit action of every target: the executor, imported only when something runs."""
    from ksbuild.exec.executor import run_target as execute

    return execute(*args)


def graph_for(root: str) -> BuildGraph:
    """The workspace's planned graph, loaded once per process."""
    if root not in _GRAPHS:
        from ksbuild import fastpath

        planned = fastpath.previous.graph if fastpath.previous and fastpath.previous.root == root else None
        _GRAPHS[root] = planned or load_graph_cached(root)  # planned already when the fast path tried
    return _GRAPHS[root]


def prepare_state_dir(root: str) -> None:
    """`.ksbuild/` holds doit's state and the run record; it ignores itself in git."""
    directory = os.path.join(root, state.STATE_DIR)
    if os.path.islink(directory):  # committed as a link: the state would be written wherever it leads
        raise ConfigError.one(state.STATE_DIR, 0, "is a symbolic link: ksbuild keeps its state in a directory of "
                              "its own, inside the workspace", f"Remove the link ({state.STATE_DIR}); ksbuild makes "
                              "the directory.")
    if not os.path.isdir(directory):
        from ksbuild.files import write_atomically

        write_atomically(os.path.join(directory, ".gitignore"), b"*\n")  # a full disk is named (files.DiskFull)


def component_versions(graph: BuildGraph) -> dict:
    """The versions of the components that publish artifacts, computed once per run (git is asked
    once: the tasks, the commands and the no-op snapshot share them)."""
    return versions_with_sources(graph)[0]


def versions_with_sources(graph: BuildGraph) -> tuple[dict, list, str]:
    """(versions, the components they were read for, the fingerprint of the git state read). The
    build's outputs in a fetched checkout do not make it dirty: see fetched_outputs."""
    from ksbuild.versioning.gitversions import fetched_outputs, versions_and_fingerprint

    root = graph.workspace.root
    if root not in _VERSIONS:
        publishing = {a.label.component for a in graph.artifacts}
        sources = [(c.name, os.path.join(root, c.path), c.tags, list(fetched_outputs(graph, c)))
                   for c in graph.workspace.components if c.name in publishing]
        found, fingerprint = versions_and_fingerprint(root, sources)
        _VERSIONS[root] = (found, sources, fingerprint)
    return _VERSIONS[root]


def cache_config(graph: BuildGraph):
    """The action cache's settings for this run (workspace.yaml, then the environment)."""
    from ksbuild.cache.config import config_problem, resolve

    config = resolve(graph.workspace.cache, graph.workspace.root)
    problem = config_problem(config)
    if problem:
        raise ConfigError.one("(environment)", 0, problem, "Fix or unset the variable.")
    return config


def known_up_to_date(root: str) -> set[str]:
    return _KEPT.get(root, set())


def _prove_unchanged(graph: BuildGraph) -> set[str]:
    """The targets the last snapshot of this command line proves up to date (ksbuild.fastpath): their
    plan is the one it recorded, none of their files changed, and neither did any target they read.
    The run leaves them out: what a BUILD.yaml edit or an input's change costs is what it touches."""
    from ksbuild import fastpath

    previous = fastpath.previous
    changed = previous.changed_targets() if previous else None
    if changed is None:
        return set()
    producers = {path: task for task, plan in graph.plans.items() for path in (*plan.outputs, *plan.output_dirs,
                                                                                *map(dir_manifest, plan.output_dirs))}
    dirty: set[str] = set()
    for task, plan in graph.plans.items():  # dependencies first
        if task in changed or previous.plan_digest(task) != plan.digest \
                or any(dep.task in dirty for dep in plan.deps) or any(producers.get(p) in dirty for p in plan.inputs):
            dirty.add(task)
    return set(graph.plans) - dirty


def _without_kept(tasks, kept: set[str]):
    """Tasks, none waiting for a kept target (target_tasks left those out)."""
    for task in tasks:
        if kept and task.get("task_dep"):
            task["task_dep"] = [name for name in task["task_dep"] if name not in kept]
        yield task


def target_tasks(graph: BuildGraph, cache, kept: set[str] = frozenset()):
    root = graph.workspace.root
    for component in graph.workspace.components:
        yield {"basename": component.name, "name": None, "doc": f"every target of component {component.name}"}
    previous = state.previous_plans(root)
    dir_files = state.previous_dir_files(root) if any(p.output_dirs for p in graph.plans.values()) else {}
    installed = _installed_tools(graph.workspace.all_tools) if graph.workspace.all_tools else {}
    planned = {}  # task -> (digest, parts, meta) of the targets doit gets
    for task, plan in graph.plans.items():
        if task in kept:
            continue
        digest, parts = plan.digest, plan.parts
        meta = {"ksbuild": "fetch" if plan.target.rule == FETCH_RULE else "target", "plan": digest}
        used = sorted({tool.task for action in plan.actions for tool in action.all_tools})
        if used:  # the tools' binaries are part of the plan: a rebuilt tool reruns what uses it
            binaries = {name: installed.get(name) for name in used}
            digest, parts = with_tool_binaries(plan.digest, plan.parts, binaries)
            meta.update(plan=digest, base_plan=plan.digest)
        planned[task] = (digest, parts, meta)
    committed = state.previous_outputs(root, None if not kept else list(planned))  # a few, after an edit
    changed_plans = [task for task, (digest, _, _) in planned.items() if previous.get(task) != digest]
    parts_before = state.previous_parts(root, changed_plans) if changed_plans else {}
    for task, (digest, parts, meta) in planned.items():
        plan = graph.plans[task]
        edited = state.changed_output(root, committed.get(task))
        if edited:  # edited by hand, or by a checkout: the build puts back what it produces
            meta["output_changed"] = edited
        unchanged = previous.get(task) == digest
        owned = _owned_files(plan, dir_files.get(task, {})) if plan.output_dirs else []
        if not unchanged:
            meta.update(plan_change=plan_change(parts_before.get(task), parts, plan.inputs),
                        parts=parts, inputs=list(plan.inputs))
        yield {
            "basename": plan.label.component,
            "name": plan.label.target,
            "doc": plan.target.doc or f"{plan.target.rule}: {', '.join(plan.outputs[:3])}",
            "actions": [(run_target, [root, task, plan.parts["rule"], plan.actions, cache])],
            "file_dep": list(plan.inputs),
            "targets": [*plan.outputs, *plan.output_dirs, *map(dir_manifest, plan.output_dirs), *owned],
            "task_dep": [dep.task for dep in plan.deps]
                        + sorted({t.task for a in plan.actions for t in a.all_tools}),
            "uptodate": [PlanCheck(unchanged and not edited, edited and f"output changed: {edited}"
                                   or meta.get("plan_change", ""))],
            "clean": [(clean_outputs, [root, task, [*plan.outputs, *owned]])],
            "meta": meta,
        }


class PlanCheck:
    """A target's plan check for doit's `uptodate`, decided at load time; `doit info` shows why."""

    __slots__ = ("same", "why")
    # doit asks every callable's signature for `task` and `values` (a database read): none, at once
    __signature__ = inspect.Signature()

    def __init__(self, same: bool, why: str):
        self.same, self.why = same, why

    def __call__(self) -> bool:
        return self.same

    def __str__(self) -> str:
        return "the plan is the one of the last success" if self.same else f"the plan changed ({self.why or 'forced'})"


def _owned_files(plan, recorded: dict[str, list[str]]) -> list[str]:
    """Files last produced in the target's owned directories: one deleted by hand rebuilds it."""
    return [f"{directory}/{name}" for directory in plan.output_dirs for name in recorded.get(directory, ())]


def group_tasks(graph: BuildGraph):
    everything = [task for task in graph.plans]
    yield {"basename": "build", "doc": "build every target (the default)", "actions": None,
           "task_dep": [c.name for c in graph.workspace.components]}
    yield {"basename": "generate", "doc": "(re)generate every derived file committed to git", "actions": None,
           "task_dep": [task for task in everything if graph.plans[task].generated]}


def _command(name: str, actions, **more) -> dict:
    """One of ksbuild's commands as a doit task: its doc and options from cli.commandline."""
    summary, params, positional = COMMANDS[name]
    task = {"basename": name, "doc": summary, "actions": actions, "params": params, "uptodate": [False],
            "verbosity": 2, "meta": {"ksbuild": "command"}, **more}
    if positional and "pos_arg" not in task:
        task["pos_arg"] = "targets"
    return task


def publish_tasks(graph: BuildGraph, versions: dict):
    """`release` and `publish`: a gate, `verify`, the targets they publish, then the pushes."""
    from ksbuild.publish.plan import publish_targets
    from ksbuild.publish.run import in_scope

    root = graph.workspace.root
    for mode in ("release", "publish"):
        scope = in_scope(versions, "release") if mode == "release" else list(versions)
        gate = f"{mode}-check"
        gate_mode = "release" if mode == "release" else "auto"
        yield {"basename": gate, "doc": f"(the first step of {mode}) refuse a dirty tree or nothing to publish",
               "actions": [(publish_gate, [root, gate_mode])], "uptodate": [False], "verbosity": 2,
               "meta": {"ksbuild": "command"}}
        action = (publish, [root, "release"], {"dev": False}) if mode == "release" else (publish, [root, "auto"])
        yield _command(mode, [action], task_dep=[gate, "verify", *publish_targets(graph, scope)])


def command_tasks(graph: BuildGraph, cache):
    root = graph.workspace.root
    yield _command("graph", [(show_graph, [root])])
    yield _command("verify", [(verify, [root])])
    yield _command("versions", [(show_versions, [root])])
    yield _command("explain", [(explain_tasks, [root])], pos_arg="tasks")
    yield _command("report", [(write_report, [root])])
    images = [task for task, plan in graph.plans.items() if plan.target.rule in IMAGE_RULES]
    charts = [task for task, plan in graph.plans.items() if plan.target.rule == "helm_chart"]
    if images or charts:
        yield _command("push", [(push, [root])], task_dep=images + charts)
    if images:
        yield _command("load", [(load, [root])], task_dep=images)
    yield _command("cache-gc", [(collect_garbage, [cache])])
    if graph.workspace.all_tools:
        yield _command("tools", [(show_tools, [root])], task_dep=["tool"])


def tool_tasks(graph: BuildGraph):
    """`tool:NAME` installs one pinned tool into the machine's tool store."""
    pins = graph.workspace.all_tools
    if not pins:
        return
    installed = _installed_tools(pins)
    yield {"basename": "tool", "name": None, "doc": "install every pinned tool"}
    for pin in pins:
        yield {"basename": "tool", "name": pin.task.removeprefix("tool:"), "doc": f"go install {pin}",
               "actions": [(install_tool, [pin])], "uptodate": [pin.task in installed], "verbosity": 2,
               "meta": {"ksbuild": "tool"}}


def with_tool_binaries(base: str, parts: dict, binaries: dict[str, str | None]) -> tuple[str, dict]:
    """A plan's digest and parts with the SHA-256 of each tool binary it uses (None: not installed)."""
    identity = sorted(binaries.items(), key=lambda item: item[0])
    return digest_of([base, identity]), dict(parts, tool_binaries=digest_of(identity))


@functools.lru_cache(maxsize=4)
def _installed_tools(pins: tuple) -> dict[str, str]:
    """Installed tools' binary digests, by install task (a small file per tool, read once per run:
    targets and tool tasks both ask)."""
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    digests = {}
    for pin in pins:
        try:
            digests[pin.task] = store.installed_digest(pin, go_env(pin.go))
        except GoMissing:
            continue
    return {task: digest for task, digest in digests.items() if digest}


def all_tasks(root: str):
    """Every doit task of the workspace at `root`; a bad definition becomes doit's load error."""
    from doit.exceptions import InvalidDodoFile

    from ksbuild.cli.main import faults_end_the_run

    try:
        graph = graph_for(root)
        cache = cache_config(graph)
    except ConfigError as err:
        raise InvalidDodoFile(f"ksbuild found {len(err.problems)} problem(s):\n{err}") from None
    with faults_end_the_run():  # a full disk: one line naming it, exit 2
        prepare_state_dir(root)
    import gc

    gc.freeze()  # the planned graph lives until the run ends: never scan it for cycles
    if graph.artifacts:
        with faults_end_the_run():
            component_versions(graph)  # this run's versions, written where the stamp actions read them
    kept = _KEPT[root] = _prove_unchanged(graph)
    yield from _without_kept(target_tasks(graph, cache, kept), kept)
    yield from _without_kept(group_tasks(graph), kept)
    yield from tool_tasks(graph)
    yield from _without_kept(command_tasks(graph, cache), kept)
    if graph.artifacts:
        yield from _without_kept(publish_tasks(graph, component_versions(graph)), kept)
