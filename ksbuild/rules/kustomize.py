"""`kustomize_build` (a kustomization rendered to one file, or split into CRDs and the rest) and
`helm_templates` (rendered manifests turned into a chart template)."""
from __future__ import annotations

import json
import posixpath

from ksbuild.loader.schema import Field
from ksbuild.model import ActionSpec, Target
from ksbuild.rules import Inputs, PlanContext, Rule, in_place


IMAGES_FIELD = Field(
    "images", "string_map", "image names set in the kustomization before it is rendered (what `kustomize edit "
    "set image NAME=…` does, in the sandbox only): NAME -> an image artifact's label (`:controller-manager`: its "
    "repository, tagged with the KSBUILD_VERSION placeholder that stamping replaces) or a fixed `repo:tag`")


def _kustomize_outputs(target: Target):
    outs = [(target.attrs["out"], "out")]
    if "crds_out" in target.attrs:
        outs.append((target.attrs["crds_out"], "crds_out"))
    return outs


def kustomize_action(target: Target, ctx: PlanContext, *, directory: str, inputs, out: tuple[str, str],
                     cwd: str, input_dirs=()) -> ActionSpec:
    """`kustomize build DIRECTORY` (relative to `cwd`) with the pinned kustomize; the stream goes to
    `out`, an (exec path, workspace path) pair. The target's `images:` are set first, in the
    sandbox's copies of the kustomizations (as `kustomize edit set image` would), never in sources."""
    images = {name: ctx.image(target, value) for name, value in sorted(target.attrs.get("images", {}).items())}
    return ActionSpec(
        prepare=(("set_images", (directory, json.dumps(images, sort_keys=True))),) if images else (),
        mnemonic="KustomizeBuild",
        description=f"{target.label.task}: kustomize build {directory}",
        argv=("kustomize", "build", directory),
        inputs=tuple(inputs),
        input_dirs=tuple(input_dirs),
        outputs=(out,),
        cwd=cwd,
        tools=(ctx.tool(target, "kustomize"),),
        stdout=out[0],
    )


def _kustomize_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    out = target.path(posixpath.normpath(target.attrs["out"]))
    crds_out = target.attrs.get("crds_out")
    stream = ctx.scratch(target, "stream.yaml") if crds_out else out
    build = kustomize_action(target, ctx, directory=target.attrs["dir"], inputs=in_place(inputs.all),
                             out=(stream, stream), cwd=target.component_dir, input_dirs=in_place(inputs.dirs))
    if not crds_out:
        return (build,)
    crds = target.path(posixpath.normpath(crds_out))
    split = ActionSpec(
        mnemonic="SplitCRDs",
        description=f"{target.label.task}: CRDs to {crds_out}, the rest to {target.attrs['out']}",
        argv=(stream, out, crds),
        inputs=in_place([stream]),
        outputs=in_place([out, crds]),
        builtin="split_crds",
    )
    return build, split


KUSTOMIZE_BUILD = Rule(
    name="kustomize_build",
    version=1,
    doc="Runs `kustomize build DIR` with the pinned kustomize; the stream goes to `out`, or, with "
        "`crds_out`, CustomResourceDefinitions go to `crds_out` and everything else to `out`. "
        "Every file the kustomization reads is found from it when the workspace loads.",
    fields=(
        Field("dir", "string", "the kustomization directory, relative to the component", required=True),
        Field("out", "string", "the output file (everything but CRDs when `crds_out` is set)", required=True),
        Field("crds_out", "string", "where CustomResourceDefinitions go, split from the stream"),
        IMAGES_FIELD,
    ),
    declare_outputs=_kustomize_outputs,
    plan=_kustomize_plan,
    kustomizations=lambda target: [(target.attrs["dir"], "dir")],
)


def _templates_outputs(target: Target):
    return [(target.attrs["out"], "out")]


def _templates_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    actions = []
    if "kustomize_dir" in target.attrs:
        stream = ctx.scratch(target, "stream.yaml")
        actions.append(kustomize_action(target, ctx, directory=target.attrs["kustomize_dir"],
                                        inputs=in_place(inputs.all), input_dirs=in_place(inputs.dirs),
                                        out=(stream, stream), cwd=target.component_dir))
        source = (stream,)
    elif len(inputs.srcs) == 1:
        source = inputs.srcs
    else:
        ctx.problem(target, "srcs", f"helm_templates takes exactly one file in srcs, not {len(inputs.srcs)}",
                    "Name the rendered manifests (e.g. `srcs: [\":manifests\"]`), or set `kustomize_dir` "
                    "and list the kustomization's files in srcs.")
        return ()
    out = target.path(posixpath.normpath(target.attrs["out"]))
    actions.append(ActionSpec(
        mnemonic="HelmTemplates",
        description=f"{target.label.task}: chart template {target.attrs['out']}",
        argv=(source[0], out, target.attrs.get("name_prefix", DEFAULT_PREFIX)),
        inputs=in_place(source if actions else inputs.all),
        outputs=in_place([out]),
        builtin="helm_templates",
    ))
    return tuple(actions)


DEFAULT_PREFIX = "{{.Values.ControlPlaneName}}-"

HELM_TEMPLATES = Rule(
    name="helm_templates",
    version=1,
    doc="Turns rendered manifests (one file in `srcs`, or `kustomize build kustomize_dir`) into a chart "
        "template: drops lines starting with `#{{-`, and prefixes the names of ClusterRoles, "
        "ClusterRoleBindings and the bindings' `roleRef.name` with `name_prefix`, so one chart can be "
        "installed once per control plane. Image references are left alone.",
    fields=(
        Field("out", "string", "the chart template to write, e.g. chart/templates/controller-manager.yaml",
              required=True),
        Field("kustomize_dir", "string", "render this kustomization first (its files are found from it) instead "
              "of reading one file from srcs"),
        Field("name_prefix", "string", f"what cluster-scoped RBAC names get in front (default `{DEFAULT_PREFIX}`)"),
        IMAGES_FIELD,
    ),
    declare_outputs=_templates_outputs,
    plan=_templates_plan,
    kustomizations=lambda target: [(target.attrs["kustomize_dir"], "kustomize_dir")] if "kustomize_dir" in target.attrs else [],
)
