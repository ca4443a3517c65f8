"""`helm_chart`: a chart artifact's directory packaged into a .tgz by ksbuild itself, then linted and
rendered by the pinned helm.

The package (ksbuild.charts.build) is deterministic: the same sources give the same digest from any
checkout. Chart.yaml's `version` is the chart artifact's published tag and `appVersion` the tag of
the image it deploys; every stamped reference in the chart's files gets this run's versions, and an
`image` reference to an image this workspace builds also gets that image's digest
(`repo:tag@sha256:…`), so the chart names exactly the image built from the same commit. Dependencies from OCI registries are
vendored into `charts/` at the digests workspace.lock records (ksbuild.charts.deps). Then
`helm lint` of the package, and `helm template` of it into `charts/NAME.rendered.yaml`: a chart
that does not render never reaches a registry.
"""
from __future__ import annotations

import json
import posixpath

from ksbuild.loader.schema import Field
from ksbuild.model import OUT_PREFIX, ActionSpec, Label, Target, out_dir
from ksbuild.rules import Inputs, PlanContext, Rule, in_place

PACKAGE_DIR = "_chart"
RENDERED = "_rendered.yaml"


def _outputs(target: Target):
    name = target.label.target
    return [(f"{OUT_PREFIX}charts/{name}/", "artifact"), (f"{OUT_PREFIX}charts/{name}.rendered.yaml", "artifact")]


def _srcs(target: Target, ctx: PlanContext):
    chart = ctx.chart_artifact(target, target.attrs["artifact"])
    if chart is None:
        return []
    inside = posixpath.relpath(chart.chart, target.component_dir) if target.component_dir not in ("", ".") \
        else chart.chart
    if inside.startswith("../"):
        ctx.problem(target, "artifact", f"chart {chart.chart} is outside the component",
                    "Package a chart from the target's own component.")
        return []
    return [(f"{inside}/**", "artifact")] + [(str(label), "artifact")
                                            for label in ctx.image_targets(target, chart).values()]


def _plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    from ksbuild.versioning.declare import resolve_label

    chart = ctx.chart_artifact(target, target.attrs["artifact"])
    if chart is None:
        return ()
    files = [path for path in inputs.all if path.startswith(chart.chart + "/")]
    stamps = ctx.chart_stamps(target, chart)
    image = str(resolve_label(chart.image, chart.label.component)) if chart.image else ""
    layouts = {artifact: out_dir(builder.component, f"images/{builder.target}")
               for artifact, builder in ctx.image_targets(target, chart).items()}
    named = {str(chart.label), *([image] if image else []), *(r["artifact"] for refs in stamps.values() for r in refs)}
    versions = {artifact: ctx.version_file(Label.parse(artifact).component) for artifact in sorted(named)}
    package_out, rendered_out = (out_dir(target.label.component, declared[len(OUT_PREFIX):]).rstrip("/")
                                 for declared, _ in _outputs(target))
    spec = {
        "chart": chart.chart, "files": files, "stamps": stamps, "versions": versions, "images": layouts,
        "dependencies": ctx.chart_dependencies(target, chart),
        "chart_artifact": str(chart.label), "chart_prefix": chart.tag_prefix,
        "image_artifact": image, "image_prefix": _prefix(ctx, target, image), "out": PACKAGE_DIR,
    }
    package = ActionSpec(
        mnemonic="HelmPackage", description=f"{target.label.task}: package {chart.chart} as {chart.label}",
        argv=(json.dumps(spec, sort_keys=True),), builtin="helm_package",
        inputs=in_place(files + sorted(set(versions.values()))), input_dirs=in_place(sorted(layouts.values())),
        outputs=(), output_dirs=((PACKAGE_DIR, package_out),))
    release = target.attrs.get("release_name", "release")
    sets = [f"--set={key}={value}" for key, value in sorted(target.attrs.get("template_values", {}).items())]
    script = (f"set -e; for chart in {PACKAGE_DIR}/*.tgz; do helm lint --quiet \"$chart\" >&2; "
              f"helm template {release} \"$chart\" {' '.join(_quote(s) for s in sets)}; done")
    check = ActionSpec(
        mnemonic="HelmLint", description=f"{target.label.task}: helm lint and helm template of the package",
        argv=("sh", "-c", script), tools=(ctx.tool(target, "helm"),),
        env=(("HELM_CACHE_HOME", "_helm/cache"), ("HELM_CONFIG_HOME", "_helm/config"),
             ("HELM_DATA_HOME", "_helm/data")),
        inputs=(), input_dirs=((PACKAGE_DIR, package_out),), outputs=((RENDERED, rendered_out),), stdout=RENDERED)
    return package, check


def _prefix(ctx: PlanContext, target: Target, image: str) -> str:
    if not image:
        return ""
    artifact = ctx.image_artifact(target, image)
    return artifact.tag_prefix if artifact is not None else ""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


HELM_CHART = Rule(
    name="helm_chart",
    version=1,
    doc="Packages a chart artifact's directory (templates other targets generate included) into "
        ".ksbuild/out/COMPONENT/charts/NAME/CHART-VERSION.tgz, written by ksbuild itself so that the same sources "
        "give the same digest; Chart.yaml's version is the chart's tag and appVersion its image's tag; stamped "
        "references get this run's versions, and image references to images built here their digests too. The "
        "pinned helm lints the package and renders it (`helm template`) into charts/NAME.rendered.yaml. "
        "`doit push` and `doit release` publish it.",
    fields=(
        Field("artifact", "string", "the chart artifact it packages: `:name` (its `chart:` directory, repository "
              "and version)", required=True),
        Field("release_name", "string", "the release name `helm template` renders with (default `release`)"),
        Field("template_values", "string_map", "values `helm template` sets (--set KEY=VALUE) for a chart whose "
              "defaults do not render"),
    ),
    declare_outputs=_outputs,
    plan=_plan,
    context_srcs=_srcs,
    commits_outputs=False,
    reads_workspace_targets=True,
)
