"""`go_image`: a multi-platform image of a Go main package, built without a daemon (as ko does).

Per platform, one action builds a static binary with the pinned Go toolchain (CGO off, -trimpath,
the version stamped with -X), so each platform caches on its own; one in-process action then
writes a deterministic layer per platform, the configs, manifests and an index, as an OCI image
layout under .ksbuild/out/COMPONENT/images/NAME/. The version and the commit time (the layers'
mtime, SOURCE_DATE_EPOCH) come from the versioning module's file for the artifact's component.
"""
from __future__ import annotations

import json
import posixpath
import re

from ksbuild.loader.schema import Field
from ksbuild.model import OUT_PREFIX, SCRATCH, ActionSpec, Target, out_dir
from ksbuild.rules import Inputs, PlanContext, Rule
from ksbuild.rules.golang import Layout

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
PLATFORM = re.compile(r"^linux/(amd64|arm64|arm|ppc64le|s390x|riscv64|386)$")
DIGEST_BASE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$")
NONROOT = "65532"  # distroless' nonroot user, as ko uses


def _main(target: Target) -> str:
    return posixpath.normpath(target.attrs["main"].removeprefix("./"))


def _binary(target: Target) -> str:
    return posixpath.basename(_main(target)) or "app"


def _platforms(target: Target) -> tuple[str, ...]:
    return tuple(target.attrs.get("platforms", DEFAULT_PLATFORMS))


def _outputs(target: Target):
    name = target.label.target
    outs = [(f"{OUT_PREFIX}images/{name}/", "artifact")]
    outs += [(f"{OUT_PREFIX}bin/{name}/{p.replace('/', '_')}/{_binary(target)}", "platforms") for p in _platforms(target)]
    return outs


def _plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    attrs = target.attrs
    for platform in _platforms(target):
        if not PLATFORM.match(platform):
            ctx.problem(target, "platforms", f"platform {platform!r} is not one Go builds images for",
                        "Write linux/ARCH, e.g. linux/amd64 or linux/arm64.")
    base = attrs.get("base", "scratch")
    if base != "scratch" and not DIGEST_BASE.match(base):
        ctx.problem(target, "base", f"base image {base!r} is not pinned by digest",
                    "Name it as REGISTRY/REPOSITORY@sha256:<digest> (a tag can move; a digest cannot), or scratch.")
    artifact = ctx.image_artifact(target, attrs["artifact"])
    if artifact is None:
        return ()
    module = ctx.go_module(target)
    layout = Layout(target, module)
    version = ctx.version_file(artifact.label.component)
    version_exec = layout.exec_path(version)
    variable = attrs.get("version_variable", "main.version")
    image_dir, *binary_outs = (ctx_out(target, declared).rstrip("/") for declared, _ in _outputs(target))
    actions = []
    binaries = []  # (platform, path in the execution root, workspace path)
    for platform, out in zip(_platforms(target), binary_outs):
        goos, goarch = platform.split("/")
        exec_out = f"_out/{goos}_{goarch}/{_binary(target)}"
        binaries.append((platform, exec_out, out))
        script = ('exec go build -trimpath -buildvcs=false -ldflags "-s -w -buildid= -X '
                  f'{variable}=$(cat {SCRATCH}/version)" -o {_relative(layout, exec_out)} ./{_main(target)}')
        actions.append(ActionSpec(
            mnemonic="GoBuild", description=f"{target.label.task}: go build ./{_main(target)} for {platform}",
            argv=("sh", "-c", script), cwd=module.path, toolchain="go",
            env=(("CGO_ENABLED", "0"), ("GOARCH", goarch), ("GOOS", goos)),
            inputs=layout.pairs(inputs.all) + ((version_exec, version),),
            input_dirs=layout.pairs(inputs.dirs),
            prepare=(("version_text", (_relative(layout, version_exec), f"{SCRATCH}/version")),),
            outputs=((exec_out, out),)))
    spec = {
        "binaries": [[platform, path] for platform, path, _ in binaries], "binary": _binary(target),
        "version_file": version, "base": base, "user": attrs.get("user", NONROOT),
        "env": sorted(attrs.get("env", {}).items()), "args": list(attrs.get("args", ())),
        "source": attrs.get("source", ""), "out": "_image",
        "base_insecure": base.split("/", 1)[0] in ctx.insecure_registries(),
    }
    actions.append(ActionSpec(
        mnemonic="OCIImage", description=f"{target.label.task}: image {artifact.repository} for "
                                         f"{', '.join(_platforms(target))}",
        argv=(json.dumps(spec, sort_keys=True),), builtin="oci_image",
        inputs=tuple((path, out) for _, path, out in binaries) + ((version, version),),
        outputs=(), output_dirs=(("_image", image_dir),)))
    return tuple(actions)


def ctx_out(target: Target, declared: str) -> str:
    """A declared `$out/...` path as the workspace path the planner gave it."""
    return out_dir(target.label.component, declared[len(OUT_PREFIX):])


def _relative(layout: Layout, exec_path: str) -> str:
    """An execution-root path as the Go action (which runs at the module's path) names it."""
    return posixpath.relpath(exec_path, layout.module.path)


GO_IMAGE = Rule(
    name="go_image",
    version=1,
    doc="A multi-platform image of a Go main package, without a daemon: a static binary per platform "
        "(CGO off, -trimpath, the artifact's version set with -X) and a deterministic layer, config, manifest "
        "and index, as an OCI image layout in .ksbuild/out/COMPONENT/images/NAME/ (its digest is the same from "
        "any checkout of the commit). `doit push` publishes it as the artifact says.",
    fields=(
        Field("main", "string", "the main package, relative to the module root, e.g. ./cmd/controller-manager",
              required=True),
        Field("artifact", "string", "the image artifact it is: `:name` (its repository and version)", required=True),
        Field("platforms", "strings", "os/arch pairs (default linux/amd64 and linux/arm64)"),
        Field("base", "string", "`scratch` (default) or an image pinned by digest, REGISTRY/REPO@sha256:..."),
        Field("user", "string", f"the user it runs as (default {NONROOT}, nonroot)"),
        Field("env", "string_map", "environment variables of the image"),
        Field("args", "strings", "arguments after the entrypoint (the image's Cmd)"),
        Field("source", "string", "org.opencontainers.image.source, e.g. https://github.com/kubestellar/kubestellar"),
        Field("version_variable", "string", "the Go variable that receives the version (default main.version)"),
    ),
    declare_outputs=_outputs,
    plan=_plan,
    implicit_srcs=lambda target: [("go.mod", "main"), ("go.sum", "main")],
    go_packages=lambda target: [_main(target)],
    commits_outputs=False,
)


# docker_image --------------------------------------------------------------------------------------
def _docker_outputs(target: Target):
    return [(f"{OUT_PREFIX}images/{target.label.target}/", "artifact")]


def _docker_srcs(target: Target):
    return [(target.attrs.get("dockerfile", "Dockerfile"), "dockerfile")]


def _docker_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    from ksbuild.images import dockerfile as parser

    attrs = target.attrs
    artifact = ctx.image_artifact(target, attrs["artifact"])
    if artifact is None:
        return ()
    file = target.path(attrs.get("dockerfile", "Dockerfile"))
    text = ctx.read_text(target, file)
    if text is None:
        return ()
    passed = set(attrs.get("build_args", {})) | ({attrs["version_arg"]} if "version_arg" in attrs else set())
    for line, message, hint in parser.problems(parser.parse(text), passed):
        ctx.problem_at(target, file if line else target.file, line or target.line_of("build_args"),
                       f"{target.label}: {message}", hint)
    version = ctx.version_file(artifact.label.component)
    context = posixpath.normpath(target.path(attrs.get("context", ".")))
    spec = {"context": context, "dockerfile": file, "build_args": dict(sorted(attrs.get("build_args", {}).items())),
            "version_arg": attrs.get("version_arg", ""), "version_file": version,
            "files": sorted(p for p in inputs.all), "tag": f"localhost/ksbuild/{target.label.component}/"
                                                          f"{target.label.target}:build", "out": "_image"}
    image_dir = ctx_out(target, _docker_outputs(target)[0][0]).rstrip("/")
    return (ActionSpec(
        mnemonic="DockerBuild", description=f"{target.label.task}: build {file} through the Docker API",
        argv=(json.dumps(spec, sort_keys=True),), builtin="docker_build",
        inputs=tuple((p, p) for p in inputs.all) + ((version, version),),
        outputs=(), output_dirs=(("_image", image_dir),)),)


DOCKER_IMAGE = Rule(
    name="docker_image",
    version=1,
    doc="An image built from a Dockerfile and its declared context (srcs) through the Docker Engine API (Docker, "
        "or podman's Docker-API service: DOCKER_HOST), saved as an OCI image layout in "
        ".ksbuild/out/COMPONENT/images/NAME/ for the engine's platform. FROM lines must pin digests (or scratch); "
        "every ARG the Dockerfile uses must get a value and every build argument must be an ARG, checked when the "
        "workspace loads. Builds through the API are not reproducible (the engine stamps times).",
    fields=(
        Field("artifact", "string", "the image artifact it is: `:name` (its repository and version)", required=True),
        Field("dockerfile", "string", "the Dockerfile, relative to the component (default Dockerfile)"),
        Field("context", "string", "the build context directory, relative to the component (default: the component); "
              "only the files in srcs are sent"),
        Field("build_args", "string_map", "build arguments, by ARG name"),
        Field("version_arg", "string", "the ARG that receives the artifact's version (the tag and the content agree)"),
    ),
    declare_outputs=_docker_outputs,
    plan=_docker_plan,
    implicit_srcs=_docker_srcs,
    commits_outputs=False,
)
