"""Go code generators: `go_deepcopy` and `crd` (controller-gen), `go_clients` (code-generator).

Go actions see the module laid out under its module path (`<exec root>/<module path>/...`) and run
there, so generators that want a GOPATH-shaped checkout work wherever the user's checkout is.
go.mod, go.sum, the header file and the named packages' Go files are always inputs.
"""
from __future__ import annotations

import posixpath

from ksbuild.loader.schema import Field
from ksbuild.model import ActionSpec, Target
from ksbuild.rules import GoModule, Inputs, PlanContext, Rule
from ksbuild.rules.kustomize import kustomize_action

PACKAGES_DOC = ("Go package directories, relative to the module root (the component), e.g. "
                "api/control/v1alpha1")


def _packages(target: Target) -> list[str]:
    return [posixpath.normpath(p.removeprefix("./")) for p in target.attrs["packages"]]


def go_srcs(target: Target) -> list[tuple[str, str]]:
    """go.mod, go.sum and the header; the packages' Go files come through `go_packages`."""
    srcs = [("go.mod", "packages"), ("go.sum", "packages")]
    if "header" in target.attrs:
        srcs.append((target.attrs["header"], "header"))
    return srcs


class Layout:
    """Workspace paths <-> execution-root paths for a Go module laid out under its module path."""

    def __init__(self, target: Target, module: GoModule):
        self.target = target
        self.module = module
        self.prefix = "" if module.dir in ("", ".") else module.dir + "/"

    def exec_path(self, workspace_path: str) -> str:
        if workspace_path.startswith(self.prefix):
            return f"{self.module.path}/{workspace_path[len(self.prefix):]}"
        return f"_workspace/{workspace_path}"  # a file from another component (a label in srcs)

    def pairs(self, workspace_paths) -> tuple[tuple[str, str], ...]:
        return tuple((self.exec_path(p), p) for p in workspace_paths)

    def component_pairs(self, relative_paths) -> tuple[tuple[str, str], ...]:
        """Pairs for component-relative paths (outputs); a trailing '/' is dropped."""
        return self.pairs(self.target.path(posixpath.normpath(p)) for p in relative_paths)


def _exact_packages(target: Target, ctx: PlanContext) -> list[str]:
    packages = _packages(target)
    for package in packages:
        if package.endswith("..."):
            ctx.problem(target, "packages", f"package {package!r}: rule {target.rule} needs exact package directories",
                        "Name each package directory (its outputs are declared per package); `...` is for `crd`.")
    return packages


def _go_action(target: Target, layout: Layout, inputs: Inputs, files=None, **fields) -> ActionSpec:
    return ActionSpec(inputs=layout.pairs(inputs.all if files is None else files),
                      input_dirs=layout.pairs(inputs.dirs), cwd=layout.module.path, toolchain="go", **fields)


# go_deepcopy ---------------------------------------------------------------------------------------
DEEPCOPY_FILE = "zz_generated.deepcopy.go"


def _deepcopy_outputs(target: Target):
    return [(posixpath.join(p, DEEPCOPY_FILE), "packages") for p in _packages(target) if not p.endswith("...")]


def _deepcopy_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    layout = Layout(target, ctx.go_module(target))
    packages = _exact_packages(target, ctx)
    header = f"object:headerFile={target.attrs['header']}"
    if "year" in target.attrs:
        header += f",year={target.attrs['year']}"
    return (_go_action(
        target, layout, inputs,
        mnemonic="GoDeepcopy",
        description=f"{target.label.task}: controller-gen object for {', '.join(packages)}",
        argv=("controller-gen", header, "paths=" + ";".join(f"./{p}" for p in packages)),
        outputs=layout.component_pairs(posixpath.join(p, DEEPCOPY_FILE) for p in packages),
        tools=(ctx.tool(target, "controller-gen"),),
    ),)


GO_DEEPCOPY = Rule(
    name="go_deepcopy",
    version=1,
    doc="controller-gen `object` over the packages: writes `zz_generated.deepcopy.go` in each (a package "
        "needs `+kubebuilder:object:generate=true` or `+kubebuilder:object:root=true` types).",
    fields=(
        Field("packages", "strings", PACKAGES_DOC, required=True),
        Field("header", "string", "the license header file put on top, e.g. hack/boilerplate.go.txt",
              required=True),
        Field("year", "string", "what ` YEAR` in the header becomes (leave it out of the header to keep "
              "outputs independent of the date)"),
    ),
    declare_outputs=_deepcopy_outputs,
    plan=_deepcopy_plan,
    implicit_srcs=go_srcs,
    go_packages=_packages,
)


# crd -----------------------------------------------------------------------------------------------
CRD_DIR, RBAC_DIR = "config/crd/bases", "config/rbac"  # where kubebuilder projects keep them


def _crd_outputs(target: Target):
    attrs = target.attrs
    outs = [(attrs.get("out_dir", CRD_DIR).rstrip("/") + "/", "out_dir")]
    if "rbac_role" in attrs:
        outs.append((posixpath.join(attrs.get("rbac_dir", RBAC_DIR), "role.yaml"), "rbac_role"))
    if "webhook_dir" in attrs:
        outs.append((attrs["webhook_dir"].rstrip("/") + "/", "webhook_dir"))
    if "copy_to" in attrs:
        outs.append((attrs["copy_to"].rstrip("/") + "/", "copy_to"))
    if "kustomize_out" in attrs:
        outs.append((attrs["kustomize_out"], "kustomize_out"))
    return outs


def _crd_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    attrs = target.attrs
    layout = Layout(target, ctx.go_module(target))
    out_dir = posixpath.normpath(attrs.get("out_dir", CRD_DIR))
    kustomize_dir = posixpath.normpath(attrs["kustomize_dir"]) if "kustomize_dir" in attrs else None
    if (kustomize_dir is None) != ("kustomize_out" not in attrs):
        ctx.problem(target, "kustomize_dir" if kustomize_dir else "kustomize_out",
                    "`kustomize_dir` and `kustomize_out` go together",
                    "Set both (a CRD kustomization and the aggregate file it renders to), or neither.")
        return ()
    kustomization = target.path(kustomize_dir) + "/" if kustomize_dir else None
    go_inputs = [p for p in inputs.all if not (kustomization and p.startswith(kustomization))]

    argv = ["controller-gen"]
    outputs, output_dirs = [], [layout.component_pairs([out_dir])[0]]
    if "rbac_role" in attrs:
        rbac_dir = posixpath.normpath(attrs.get("rbac_dir", RBAC_DIR))
        argv += [f"rbac:roleName={attrs['rbac_role']}", f"output:rbac:artifacts:config={rbac_dir}"]
        outputs += layout.component_pairs([posixpath.join(rbac_dir, "role.yaml")])
    argv += ["crd", f"output:crd:artifacts:config={out_dir}"]
    if "webhook_dir" in attrs:
        argv += ["webhook", f"output:webhook:artifacts:config={posixpath.normpath(attrs['webhook_dir'])}"]
        output_dirs += layout.component_pairs([attrs["webhook_dir"]])
    argv.append("paths=" + ";".join(f"./{p}" for p in _packages(target)))
    actions = [_go_action(
        target, layout, inputs, go_inputs,
        mnemonic="GoCRD",
        description=f"{target.label.task}: controller-gen crd for {', '.join(_packages(target))}",
        argv=tuple(argv), outputs=tuple(outputs), output_dirs=tuple(output_dirs),
        tools=(ctx.tool(target, "controller-gen"),),
    )]
    crds = output_dirs[0]
    if "copy_to" in attrs:
        copy_to = layout.component_pairs([attrs["copy_to"]])[0]
        actions.append(ActionSpec(
            mnemonic="CopyCRDs", description=f"{target.label.task}: CRDs again in {attrs['copy_to']}",
            argv=(crds[0], copy_to[0]), inputs=(), input_dirs=(crds,), outputs=(), output_dirs=(copy_to,),
            builtin="copy_dir"))
    if kustomize_dir:
        out = layout.component_pairs([attrs["kustomize_out"]])[0]
        kustomize_inputs = layout.pairs(p for p in inputs.all if p.startswith(kustomization))
        actions.append(kustomize_action(
            target, ctx, directory=kustomize_dir, inputs=kustomize_inputs, out=out, cwd=layout.module.path,
            input_dirs=(crds,)))
    return tuple(actions)


CRD = Rule(
    name="crd",
    version=1,
    doc="controller-gen `crd` (and `rbac`, `webhook` when asked) over the packages; the CRD directory is "
        "owned: a CRD no longer generated is removed. The CRDs can go to a second place, as copies "
        "(`copy_to`) or as one file rendered by a CRD kustomization (`kustomize_dir`, `kustomize_out`).",
    fields=(
        Field("packages", "strings", PACKAGES_DOC + "; `dir/...` for every package below", required=True),
        Field("out_dir", "string", "the CRD directory (default config/crd/bases)"),
        Field("rbac_role", "string", "also write the ClusterRole of the packages' `+kubebuilder:rbac` markers, "
              "with this name"),
        Field("rbac_dir", "string", "where `role.yaml` goes (default config/rbac)"),
        Field("webhook_dir", "string", "also write webhook configurations to this (owned) directory"),
        Field("copy_to", "string", "a second (owned) directory that gets a copy of every CRD file"),
        Field("kustomize_dir", "string", "a kustomization over the CRDs (its files are found from it; it may be inside the CRD directory, written by hand)"),
        Field("kustomize_out", "string", "the file `kustomize build kustomize_dir` is written to"),
    ),
    declare_outputs=_crd_outputs,
    plan=_crd_plan,
    kustomizations=lambda target: [(target.attrs["kustomize_dir"], "kustomize_dir")] if "kustomize_dir" in target.attrs else [],
    implicit_srcs=go_srcs,
    go_packages=_packages,
    owned_marker=r"controller-gen\.kubebuilder\.io/version",
)


# go_clients ----------------------------------------------------------------------------------------
GENERATED_KINDS = ("clientset", "listers", "informers")


def _clients_out(target: Target) -> str:
    return posixpath.normpath(target.attrs.get("out_dir", "pkg/generated"))


def _clients_outputs(target: Target):
    return [(f"{_clients_out(target)}/{kind}/", "out_dir") for kind in GENERATED_KINDS]


def _clients_plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    module = ctx.go_module(target)
    layout = Layout(target, module)
    packages = _exact_packages(target, ctx)
    bases = {posixpath.dirname(posixpath.dirname(p)) for p in packages}
    if len(bases) != 1:
        ctx.problem(target, "packages", "go_clients packages must be GROUP/VERSION directories under one "
                    f"directory, not {', '.join(packages)}",
                    "List packages such as api/control/v1alpha1 and api/other/v1 (one go_clients target per root).")
        return ()
    base = bases.pop()
    out = _clients_out(target)
    header = target.attrs["header"]
    clientset = target.attrs.get("clientset_name", "versioned")
    out_pkg = f"{module.path}/{out}"
    imports = [f"{module.path}/{p}" for p in packages]
    common = ["--go-header-file", header]
    if "plural_exceptions" in target.attrs:
        common += ["--plural-exceptions", target.attrs["plural_exceptions"]]

    def generator(kind: str, tool: str, mnemonic: str, argv: list[str]) -> ActionSpec:
        return _go_action(
            target, layout, inputs, mnemonic=mnemonic,
            description=f"{target.label.task}: {tool} -> {out}/{kind}",
            argv=(tool, *common, "--output-dir", f"{out}/{kind}", "--output-pkg", f"{out_pkg}/{kind}", *argv),
            outputs=(), output_dirs=layout.component_pairs([f"{out}/{kind}"]), tools=(ctx.tool(target, tool),))

    return (
        generator("clientset", "client-gen", "ClientGen",
                  ["--clientset-name", clientset, "--input-base", f"{module.path}/{base}" if base else module.path,
                   *[arg for p in packages for arg in ("--input", posixpath.relpath(p, base or "."))]]),
        generator("listers", "lister-gen", "ListerGen", imports),
        generator("informers", "informer-gen", "InformerGen",
                  ["--versioned-clientset-package", f"{out_pkg}/clientset/{clientset}",
                   "--listers-package", f"{out_pkg}/listers", *imports]),
    )


GO_CLIENTS = Rule(
    name="go_clients",
    version=1,
    doc="code-generator's client-gen, lister-gen and informer-gen (typed clients with watch) for the "
        "`+genclient` types of GROUP/VERSION packages, into `OUT_DIR/{clientset,listers,informers}`; those "
        "directories are owned: files the generators no longer produce (a deleted type's) are removed.",
    fields=(
        Field("packages", "strings", "GROUP/VERSION package directories under one API root, e.g. "
              "api/control/v1alpha1", required=True),
        Field("header", "string", "the license header file, e.g. hack/boilerplate.generatego.txt", required=True),
        Field("out_dir", "string", "where the generated packages go (default pkg/generated)"),
        Field("clientset_name", "string", "the clientset's package name (default versioned)"),
        Field("plural_exceptions", "string", "irregular plurals, e.g. `Endpoints:Endpoints`"),
    ),
    declare_outputs=_clients_outputs,
    plan=_clients_plan,
    implicit_srcs=go_srcs,
    go_packages=_packages,
    owned_marker=r"^// Code generated by [a-z-]+-gen\. DO NOT EDIT\.",
)

RULES = (GO_DEEPCOPY, CRD, GO_CLIENTS)
