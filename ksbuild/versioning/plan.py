"""Artifacts and references at load time: labels resolved and checked, a chart's Chart.yaml
`version` and `appVersion` made references of their own, and a `COMPONENT:stamped` target per
component that renders its charts and stamped files into `.ksbuild/out/COMPONENT/` with the versions
of this run (an explicit input, `.ksbuild/versions/NAME.json`, so no other action depends on it)."""
from __future__ import annotations

import json
import os
import posixpath
from dataclasses import replace

from ksbuild.model import ActionSpec, BuildGraph, Label, Target, TargetPlan, action_parts, digest_of, out_dir
from ksbuild.versioning.declare import PLACEHOLDER, Artifact, Reference, dev_repository, resolve_label
from ksbuild.versioning.gitversions import version_file

STAMP_TARGET = "stamped"
STAMP_RULE = "stamp@1"


def out_path(workspace_path: str, component_dir: str, component: str) -> str:
    """Where a component's file is rendered with versions: .ksbuild/out/COMPONENT/RELATIVE."""
    relative = posixpath.relpath(workspace_path, component_dir) if component_dir not in ("", ".") else workspace_path
    return out_dir(component, relative)


def plan_versioning(graph: BuildGraph, artifacts: list[Artifact], references: list[Reference], planner) -> BuildGraph:
    if not artifacts and not references:
        return graph
    problems = planner.problems
    by_label = {a.label: a for a in artifacts}
    references = list(references)
    for artifact in artifacts:
        references += _chart_references(artifact, by_label, planner)
        for text in artifact.built_from:
            label = resolve_label(text, artifact.label.component)
            if label is None or label.task not in graph.plans:
                problems.add(artifact.file, artifact.line, f"{artifact.label}: built_from names unknown target {text!r}",
                             "Name a target: ':target' or '//component:target'.")
    for ref in references:
        label = resolve_label(ref.artifact, ref.component)
        if label is None or label not in by_label:
            known = ", ".join(str(a.label) for a in artifacts) or "none"
            problems.add(ref.file, ref.line, f"reference in {ref.path}: unknown artifact {ref.artifact!r}",
                         f"Declare it under `artifacts:` in its component's BUILD.yaml (declared: {known}).")
        elif by_label[label].external and ref.policy != "pinned" and ref.form != "oci":
            problems.add(ref.file, ref.line, f"reference in {ref.path}: {label} is external, so the reference "
                         f"cannot be `{ref.policy}`", "Pin one of its known versions: `policy: pinned`.")
        elif not (planner.producer(ref.path) or os.path.isfile(os.path.join(planner.root, ref.path))):
            problems.add(ref.file, ref.line, f"reference file {ref.path} does not exist and no target produces it",
                         "Fix `file:` (it is relative to the component).")
    for label in graph.plans:
        if label.endswith(":" + STAMP_TARGET):
            target = graph.plans[label].target
            problems.add(target.file, target.line, f"{target.label}: the name {STAMP_TARGET!r} is ksbuild's",
                         "Rename the target: ksbuild renders stamped files under that name.")
    problems.raise_if_any()
    references = [replace(r, artifact=str(resolve_label(r.artifact, r.component))) for r in references]
    plans = dict(graph.plans)
    for component in graph.workspace.components:
        plan = _stamp_plan(component, [a for a in artifacts if a.label.component == component.name],
                           [r for r in references if r.component == component.name], by_label, planner)
        if plan is not None:
            plans[plan.label.task] = plan
    return replace(graph, plans=plans, artifacts=tuple(artifacts), references=tuple(references))


def _chart_references(artifact: Artifact, by_label, planner) -> list[Reference]:
    """A chart's Chart.yaml names its own version and its image's: both are stamped."""
    if artifact.kind != "chart":
        return []
    chart_yaml = f"{artifact.chart}/Chart.yaml"
    if not artifact.chart or not os.path.isfile(os.path.join(planner.root, chart_yaml)):
        planner.problems.add(artifact.file, artifact.line, f"{artifact.label}: chart directory "
                             f"{artifact.chart or '(none)'} has no Chart.yaml", "Set `chart:` to the chart's directory.")
        return []
    image = artifact.image or f"//{artifact.label.component}:{artifact.label.target}"
    image_label = resolve_label(image, artifact.label.component)
    if artifact.image and (image_label not in by_label or by_label[image_label].kind != "image"):
        planner.problems.add(artifact.file, artifact.line, f"{artifact.label}: image {artifact.image!r} is not a "
                             "declared image artifact", "Name the image artifact the chart deploys.")
    # Stamped whatever Chart.yaml says (as `helm package --version X --app-version Y` does): adopting
    # ksbuild never means editing the chart first; the committed value is shown as information. Both
    # are tags as published: the chart's version is its OCI tag, and appVersion the image's tag.
    common = dict(component=artifact.label.component, path=chart_yaml, regex="", form="tag", policy="stamp",
                  placeholder=PLACEHOLDER, file=artifact.file, line=artifact.line, always=True)
    return [Reference(yaml="version", artifact=f"//{artifact.label.component}:{artifact.label.target}", **common),
            Reference(yaml="appVersion", artifact=image, **common)]


def _stamp_plan(component, artifacts, references, by_label, planner) -> TargetPlan | None:
    dev_prefix = planner.workspace.dev_prefix
    charts = [a for a in artifacts if a.kind == "chart"]
    stamped = [r for r in references if r.policy == "stamp"]
    if not charts and not stamped:
        return None
    files = set(r.path for r in stamped)
    for chart in charts:
        files.update(planner.glob_paths(f"{chart.chart}/**"))
    files = sorted(files)
    named = sorted({r.artifact for r in stamped})
    versions = sorted({version_file(Label.parse(a).component) for a in named})
    spec = {
        "files": [{"src": path, "out": out_path(path, component.path, component.name),
                   "refs": [ref_spec(r, by_label, dev_prefix) for r in stamped if r.path == path]} for path in files],
        "versions": {a: version_file(Label.parse(a).component) for a in named},
    }
    action = ActionSpec(
        mnemonic="Stamp", description=f"{component.name}:{STAMP_TARGET}: charts and references with versions",
        argv=(json.dumps(spec, sort_keys=True),), builtin="stamp",
        inputs=tuple((p, p) for p in files + versions),
        outputs=tuple((f["out"], f["out"]) for f in spec["files"]))
    label = Label(component.name, STAMP_TARGET)
    target = Target(label=label, rule="stamp", component_dir=component.path, file=component.file,
                    line=component.line, attrs={}, attr_lines={},
                    doc="charts and stamped files with this run's versions, in .ksbuild/out/" + component.name)
    deps = sorted({p.label for p in map(planner.producer, files) if p is not None})
    parts = {"rule": STAMP_RULE, "inputs": digest_of(files + versions),
             "outputs": digest_of([out for out, _ in action.outputs]), **action_parts([action])}
    return TargetPlan(target=target, rule_version=1, actions=(action,), inputs=tuple(files + versions),
                      outputs=tuple(f["out"] for f in spec["files"]), deps=tuple(deps), generated=False, parts=parts)


def ref_spec(ref: Reference, by_label, dev_prefix: str) -> dict:
    """What the stamping code (versioning.stamp) needs of a reference, as JSON."""
    artifact = by_label[Label.parse(ref.artifact)]
    return {"yaml": ref.yaml, "regex": ref.regex, "form": ref.form, "placeholder": ref.placeholder,
            "artifact": ref.artifact, "repository": artifact.repository, "tag_prefix": artifact.tag_prefix,
            "always": ref.always, "dev_repository": dev_repository(artifact, dev_prefix)}
