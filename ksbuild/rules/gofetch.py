"""The one action per Go module that reaches the network: `go mod download`, keyed by go.mod and
go.sum, into the machine's module cache. Every other Go action of the module runs after it, with
the module cache read-only and GOPROXY=off (exec.isolation), so a generator cannot fetch anything,
and a module missing from go.sum fails where it is fetched, saying so.

Its target, `COMPONENT:go-modules`, is planned by ksbuild, not declared: it is scheduled like any
target but not counted among them, and never cached (its effect is the module cache).
"""
from __future__ import annotations

from dataclasses import replace

from ksbuild.model import FETCH_RULE, ActionSpec, BuildGraph, Label, Target, TargetPlan, action_parts, digest_of

FETCH_TARGET = "go-modules"
RULE_VERSION = f"{FETCH_RULE}@1"


def add_module_fetches(graph: BuildGraph, context) -> BuildGraph:
    """Every target with Go actions depends on its module's fetch target, planned first."""
    fetches: dict[str, TargetPlan] = {}
    plans = dict(graph.plans)
    for task, plan in graph.plans.items():
        if not any(action.toolchain == "go" for action in plan.actions):
            continue
        component = plan.label.component
        if component not in fetches:
            if f"{component}:{FETCH_TARGET}" in graph.plans:
                target = graph.plans[f"{component}:{FETCH_TARGET}"].target
                context.planner.problems.add(target.file, target.line, f"{target.label}: the name {FETCH_TARGET!r} "
                                             "is ksbuild's", "Rename the target: ksbuild fetches Go modules under it.")
                continue
            fetches[component] = _fetch_plan(plan.target, context)
        plans[task] = replace(plan, deps=tuple(sorted(plan.deps + (fetches[component].label,))))
    if not fetches:
        return graph
    ordered = {fetch.label.task: fetch for fetch in fetches.values()}
    ordered.update(plans)
    return replace(graph, plans=ordered)


def _fetch_plan(source: Target, context) -> TargetPlan:
    module = context.go_module(source)
    label = Label(source.label.component, FETCH_TARGET)
    files = [source.path("go.mod"), source.path("go.sum")]
    stamp = f".ksbuild/work/{label.component}/{FETCH_TARGET}/download.json"
    action = ActionSpec(
        mnemonic="GoModDownload", description=f"{label.task}: go mod download for {module.path}",
        argv=("go", "mod", "download", "-json"), cwd=module.path, toolchain="go", network=True,
        inputs=tuple((f"{module.path}/{name}", path) for name, path in zip(("go.mod", "go.sum"), files)),
        outputs=((stamp, stamp),), stdout=stamp,
        go_version=context.planner.workspace.go_for(source.label.component))
    target = Target(label=label, rule=FETCH_RULE, component_dir=source.component_dir, file=source.file,
                    line=source.line, attrs={}, attr_lines={},
                    doc=f"the Go modules {module.path} needs, into the module cache (the only networked step)")
    parts = {"rule": RULE_VERSION, "inputs": digest_of(files), "outputs": digest_of([stamp]),
             **action_parts([action], context.toolchain_identity([action]))}
    return TargetPlan(target=target, rule_version=1, actions=(action,), inputs=tuple(files), outputs=(stamp,),
                      deps=(), generated=False, parts=parts)


def is_fetch(plan: TargetPlan) -> bool:
    return plan.target.rule == FETCH_RULE
