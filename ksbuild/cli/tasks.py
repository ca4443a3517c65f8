"""The planned graph as doit tasks: one per target (`component:target`), a group per component,
`build` (the default), `generate`, and ksbuild's own commands as tasks (`graph`)."""
from __future__ import annotations

import functools
import os

from ksbuild import state
from ksbuild.cli.commands import (collect_garbage, explain_tasks, install_tool, load, publish, publish_gate, push,
                                  show_graph, show_tools, show_versions)
from ksbuild.cli.clean import clean_outputs
from ksbuild.cli.explain import plan_change
from ksbuild.errors import ConfigError
from ksbuild.loader.plancache import load_graph_cached
from ksbuild.model import FETCH_RULE, IMAGE_RULES, BuildGraph, digest_of, dir_manifest
from ksbuild.verify.command import verify

_GRAPHS: dict[str, BuildGraph] = {}


def run_target(*args):
    """doit action of every target: the executor, imported only when something runs."""
    from ksbuild.exec.executor import run_target as execute

    return execute(*args)


def graph_for(root: str) -> BuildGraph:
    """The workspace's planned graph, loaded once per process."""
    if root not in _GRAPHS:
        _GRAPHS[root] = load_graph_cached(root)
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
    """The versions of the components that publish artifacts, computed once per run (the build's
    outputs in a fetched checkout do not make it dirty: see fetched_outputs)."""
    from ksbuild.versioning.gitversions import fetched_outputs, versions

    publishing = {a.label.component for a in graph.artifacts}
    root = graph.workspace.root
    return versions(root, [(c.name, os.path.join(root, c.path), c.tags, fetched_outputs(graph, c))
                           for c in graph.workspace.components if c.name in publishing])


def cache_config(graph: BuildGraph):
    """The action cache's settings for this run (workspace.yaml, then the environment)."""
    from ksbuild.cache.config import config_problem, resolve

    config = resolve(graph.workspace.cache, graph.workspace.root)
    problem = config_problem(config)
    if problem:
        raise ConfigError.one("(environment)", 0, problem, "Fix or unset the variable.")
    return config


def target_tasks(graph: BuildGraph, cache):
    root = graph.workspace.root
    for component in graph.workspace.components:
        yield {"basename": component.name, "name": None, "doc": f"every target of component {component.name}"}
    previous = state.previous_plans(root)
    parts_before = None  # read only if some plan changed
    dir_files = state.previous_dir_files(root) if any(p.output_dirs for p in graph.plans.values()) else {}
    installed = _installed_tools(graph.workspace.all_tools) if graph.workspace.all_tools else {}
    committed = state.previous_outputs(root)
    for task, plan in graph.plans.items():
        digest, parts = plan.digest, plan.parts
        meta = {"ksbuild": "fetch" if plan.target.rule == FETCH_RULE else "target", "plan": digest}
        edited = state.changed_output(root, committed.get(task))
        if edited:  # edited by hand, or by a checkout: the build puts back what it produces
            meta["output_changed"] = edited
        used = sorted({tool.task for action in plan.actions for tool in action.all_tools})
        if used:  # the tools' binaries are part of the plan: a rebuilt tool reruns what uses it
            binaries = {name: installed.get(name) for name in used}
            digest, parts = with_tool_binaries(plan.digest, plan.parts, binaries)
            meta.update(plan=digest, base_plan=plan.digest)
        unchanged = previous.get(task) == digest
        owned = _owned_files(plan, dir_files.get(task, {})) if plan.output_dirs else []
        if not unchanged:
            if parts_before is None:
                parts_before = state.previous_parts(root)
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
            "uptodate": [unchanged and not edited],
            "clean": [(clean_outputs, [root, task, [*plan.outputs, *owned]])],
            "meta": meta,
        }


def _owned_files(plan, recorded: dict[str, list[str]]) -> list[str]:
    """Files last produced in the target's owned directories: one deleted by hand rebuilds it."""
    return [f"{directory}/{name}" for directory in plan.output_dirs for name in recorded.get(directory, ())]


def group_tasks(graph: BuildGraph):
    everything = [task for task in graph.plans]
    yield {"basename": "build", "doc": "build every target (the default)", "actions": None,
           "task_dep": [c.name for c in graph.workspace.components]}
    yield {"basename": "generate", "doc": "(re)generate every derived file committed to git", "actions": None,
           "task_dep": [task for task in everything if graph.plans[task].generated]}


PUBLISH_PARAMS = [
    {"name": "dry_run", "long": "dry-run", "type": bool, "default": False,
     "help": "check everything and print what would be pushed; push nothing"},
    {"name": "registry", "long": "registry", "default": "",
     "help": "push every repository under this registry (HOST[:PORT]) instead (references keep their names)"},
    {"name": "out", "long": "out", "default": "", "help": "the release directory (default .ksbuild/release)"},
]


def publish_tasks(graph: BuildGraph, versions: dict):
    """`release` and `publish`: a gate, `verify`, the targets they publish, then the pushes."""
    from ksbuild.publish.plan import publish_targets
    from ksbuild.publish.run import in_scope

    root = graph.workspace.root
    command = {"uptodate": [False], "verbosity": 2, "meta": {"ksbuild": "command"}}
    for mode, doc in (("release", "publish every component at a release tag: verify, build, push images then "
                                  "charts, write the release directory (--dry-run)"),
                      ("publish", "publish this commit (development versions on an untagged commit; --dev)")):
        scope = in_scope(versions, "release") if mode == "release" else list(versions)
        gate = f"{mode}-check"
        yield dict(command, basename=gate, doc=f"(the first step of {mode}) refuse a dirty tree or nothing to publish",
                   actions=[(publish_gate, [root, "release" if mode == "release" else "auto"])])
        params = PUBLISH_PARAMS + ([{"name": "dev", "long": "dev", "type": bool, "default": False,
                                     "help": "publish development versions only"}] if mode == "publish" else [])
        action = (publish, [root, "release" if mode == "release" else "auto"])
        if mode == "release":
            action = (publish, [root, "release"], {"dev": False})
        yield dict(command, basename=mode, doc=doc, actions=[action], params=params,
                   task_dep=[gate, "verify", *publish_targets(graph, scope)])


def command_tasks(graph: BuildGraph, cache):
    root = graph.workspace.root
    command = {"uptodate": [False], "verbosity": 2, "meta": {"ksbuild": "command"}}
    yield dict(command, basename="graph", doc="print the build graph (--format mermaid|dot)",
               actions=[(show_graph, [root])],
               params=[{"name": "format", "long": "format", "default": "mermaid",
                        "choices": (("mermaid", "Mermaid flowchart"), ("dot", "Graphviz digraph")),
                        "help": "output format: mermaid (default) or dot"}])
    yield dict(command, basename="verify", doc="check that every derived file is what the build produces "
               "(HEAD, or --worktree), without touching the working tree", actions=[(verify, [root])],
               params=[{"name": "worktree", "long": "worktree", "type": bool, "default": False,
                        "help": "check the working tree's current contents instead of HEAD"},
                       {"name": "junit", "long": "junit", "default": "", "help": "write a JUnit XML report here"},
                       {"name": "json", "long": "json", "default": "", "help": "write a JSON report here"}])
    yield dict(command, basename="versions", doc="every artifact's version, and every reference with what it says",
               actions=[(show_versions, [root])],
               params=[{"name": "json", "long": "json", "default": "", "help": "also write them as JSON here"}])
    yield dict(command, basename="explain", doc="why targets ran in the last run, and why their cache lookups missed",
               actions=[(explain_tasks, [root])], pos_arg="tasks")
    images = [task for task, plan in graph.plans.items() if plan.target.rule in IMAGE_RULES]
    charts = [task for task, plan in graph.plans.items() if plan.target.rule == "helm_chart"]
    if images or charts:
        yield dict(command, basename="push", doc="push built images, then charts, to their artifacts' repositories, "
                   "tagged with their versions (--registry HOST to publish elsewhere)", actions=[(push, [root])],
                   task_dep=images + charts, pos_arg="targets",
                   params=[{"name": "registry", "long": "registry", "default": "",
                            "help": "publish every repository under this registry (HOST[:PORT]) instead"}])
    if images:
        yield dict(command, basename="load", doc="load an image (the engine's platform) into the local Docker-API "
                   "engine", actions=[(load, [root])], task_dep=images, pos_arg="targets")
    yield dict(command, basename="cache-gc", doc="trim the local action cache to its size limit (oldest use first)",
               actions=[(collect_garbage, [cache])])
    if graph.workspace.all_tools:
        yield dict(command, basename="tools", doc="install the pinned tools and list name, version, digest, path",
                   actions=[(show_tools, [root])], task_dep=["tool"])


def tool_tasks(graph: BuildGraph):
    """`tool:NAME` installs one pinned tool into the machine's tool store."""
    pins = graph.workspace.all_tools
    if not pins:
        return
    installed = _installed_tools(pins)
    yield {"basename": "tool", "name": None, "doc": "install every pinned tool"}
    for pin in pins:
        yield {"basename": "tool", "name": pin.task.removeprefix("tool:"), "doc": f"go install {pin}",
               "actions": [(install_tool, [pin])], "uptodate": [pin.task in installed],
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
    yield from target_tasks(graph, cache)
    yield from group_tasks(graph)
    yield from tool_tasks(graph)
    yield from command_tasks(graph, cache)
    if graph.artifacts:
        yield from publish_tasks(graph, component_versions(graph))
