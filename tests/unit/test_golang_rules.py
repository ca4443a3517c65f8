"""The Go rules as plans: module-path layout, generator flags, owned directories read whole."""
import pytest

from ksbuild.errors import ConfigError
from ksbuild.loader.graph import load_graph

WORKSPACE = """\
components:
  ks:
    path: src/ks
tools:
  controller-gen: {package: sigs.k8s.io/controller-tools/cmd/controller-gen, version: v0.23.0}
  client-gen: {package: k8s.io/code-generator/cmd/client-gen, version: v0.37.2}
  lister-gen: {package: k8s.io/code-generator/cmd/lister-gen, version: v0.37.2}
  informer-gen: {package: k8s.io/code-generator/cmd/informer-gen, version: v0.37.2}
  kustomize: {package: sigs.k8s.io/kustomize/kustomize/v5, version: v5.7.1}
"""
MODULE = "example.com/ks"


@pytest.fixture
def ws(workspace):
    workspace.write("workspace.yaml", WORKSPACE)
    workspace.write("src/ks/go.mod", f"module {MODULE}\n\ngo 1.26\n")
    workspace.write("src/ks/go.sum", "")
    workspace.write("src/ks/hack/header.txt", "/* header */\n")
    for package in ("api/control/v1alpha1", "api/other/v1", "pkg/v1"):
        workspace.write(f"src/ks/{package}/types.go", "package x\n")
    workspace.write("src/ks/README.md", "words\n")
    return workspace


def plan(ws, build: str):
    ws.write("src/ks/BUILD.yaml", build)
    return load_graph(str(ws.root)).plans


def problems(ws, build: str) -> list[str]:
    ws.write("src/ks/BUILD.yaml", build)
    with pytest.raises(ConfigError) as err:
        load_graph(str(ws.root))
    return [str(p) for p in err.value.problems]


def test_deepcopy_runs_under_the_module_path_with_go_mod_and_header_as_inputs(ws):
    plans = plan(ws, """\
        targets:
          deepcopy:
            rule: go_deepcopy
            packages: [api/control/v1alpha1, ./api/other/v1]
            header: hack/header.txt
        """)
    target = plans["ks:deepcopy"]
    (action,) = target.actions
    assert action.cwd == MODULE
    assert action.argv == ("controller-gen", "object:headerFile=hack/header.txt",
                           "paths=./api/control/v1alpha1;./api/other/v1")
    assert dict(action.inputs) == {
        f"{MODULE}/go.mod": "src/ks/go.mod", f"{MODULE}/go.sum": "src/ks/go.sum",
        f"{MODULE}/hack/header.txt": "src/ks/hack/header.txt",
        f"{MODULE}/api/control/v1alpha1/types.go": "src/ks/api/control/v1alpha1/types.go",
        f"{MODULE}/api/other/v1/types.go": "src/ks/api/other/v1/types.go"}
    assert target.outputs == ("src/ks/api/control/v1alpha1/zz_generated.deepcopy.go",
                              "src/ks/api/other/v1/zz_generated.deepcopy.go")
    assert action.outputs[0] == (f"{MODULE}/api/control/v1alpha1/zz_generated.deepcopy.go", target.outputs[0])
    assert [t.name for t in action.tools] == ["controller-gen"] and action.toolchain == "go"


def test_clients_name_the_input_base_and_own_three_directories(ws):
    plans = plan(ws, """\
        targets:
          clients:
            rule: go_clients
            packages: [api/control/v1alpha1, api/other/v1]
            header: hack/header.txt
        """)
    target = plans["ks:clients"]
    assert target.output_dirs == ("src/ks/pkg/generated/clientset", "src/ks/pkg/generated/listers",
                                  "src/ks/pkg/generated/informers")
    client, lister, informer = target.actions
    assert client.argv[client.argv.index("--input-base") + 1] == f"{MODULE}/api"
    assert [client.argv[i + 1] for i, a in enumerate(client.argv) if a == "--input"] == ["control/v1alpha1", "other/v1"]
    assert client.argv[client.argv.index("--output-pkg") + 1] == f"{MODULE}/pkg/generated/clientset"
    assert lister.argv[-2:] == (f"{MODULE}/api/control/v1alpha1", f"{MODULE}/api/other/v1")
    assert informer.argv[informer.argv.index("--versioned-clientset-package") + 1] == \
        f"{MODULE}/pkg/generated/clientset/versioned"
    assert informer.output_dirs == ((f"{MODULE}/pkg/generated/informers", "src/ks/pkg/generated/informers"),)


def test_crd_second_place_and_a_reader_of_the_owned_directory(ws):
    ws.write("src/ks/config/crd/bases/old.yaml", "kind: CustomResourceDefinition\nmetadata:\n  annotations:\n"
             "    controller-gen.kubebuilder.io/version: v0.23.0\n")
    ws.write("src/ks/config/default/kustomization.yaml", "resources: [../crd]\n")
    ws.write("src/ks/config/crd/kustomization.yaml", "resources: [bases/old.yaml]\n")
    plans = plan(ws, """\
        targets:
          crds:
            rule: crd
            packages: [./api/...]
            rbac_role: manager-role
            copy_to: pkg/crd/files
          chart:
            rule: kustomize_build
            dir: config/default
            out: chart/all.yaml
        """)
    crds = plans["ks:crds"]
    generate, copy = crds.actions
    assert generate.argv[-1] == "paths=./api/..."
    assert "rbac:roleName=manager-role" in generate.argv
    assert crds.outputs == ("src/ks/config/rbac/role.yaml",)
    assert crds.output_dirs == ("src/ks/config/crd/bases", "src/ks/pkg/crd/files")
    assert copy.input_dirs == generate.output_dirs
    assert "src/ks/api/other/v1/types.go" in crds.inputs
    chart = plans["ks:chart"]
    assert [str(d) for d in chart.deps] == ["//ks:crds"]
    assert chart.inputs == ("src/ks/config/crd/kustomization.yaml", "src/ks/config/default/kustomization.yaml",
                            ".ksbuild/dirs/src/ks/config/crd/bases.files")
    assert chart.actions[0].input_dirs == (("src/ks/config/crd/bases", "src/ks/config/crd/bases"),)


def test_go_rule_mistakes_are_reported_with_their_lines(ws):
    ws.write("src/ks/config/crd/kustomization.yaml", "resources: []\n")
    found = problems(ws, """\
        targets:
          deepcopy:
            rule: go_deepcopy
            packages: [./api/...]
            header: hack/header.txt
          clients:
            rule: go_clients
            packages: [api/control/v1alpha1, pkg/v1]
            header: hack/header.txt
          copies:
            rule: copy
            srcs: [":crds"]
            to: [elsewhere/]
          crds:
            rule: crd
            packages: [./api/...]
            kustomize_dir: config/crd
        """)
    text = "\n".join(found)
    assert "BUILD.yaml:4: //ks:deepcopy: package 'api/...': rule go_deepcopy needs exact package directories" in text
    assert "BUILD.yaml:8: //ks:clients: go_clients packages must be GROUP/VERSION directories under one" in text
    assert "BUILD.yaml:12: //ks:copies: rule copy cannot read src/ks/config/crd/bases/, a directory //ks:crds owns" in text
    assert "BUILD.yaml:17: //ks:crds: `kustomize_dir` and `kustomize_out` go together" in text


def test_missing_go_mod_and_unpinned_tool(ws):
    (ws.root / "src/ks/go.mod").unlink()
    ws.write("workspace.yaml", "components:\n  ks:\n    path: src/ks\n")
    found = "\n".join(problems(ws, """\
        targets:
          deepcopy:
            rule: go_deepcopy
            packages: [api/control/v1alpha1]
            header: hack/header.txt
        """))
    assert "BUILD.yaml:4: //ks:deepcopy: packages (rule go_deepcopy reads it): file 'go.mod' does not exist" in found
    (ws.root / "src/ks/go.mod").write_text("// no module line\n")
    found = "\n".join(problems(ws, (ws.root / "src/ks/BUILD.yaml").read_text()))
    assert "BUILD.yaml:3: //ks:deepcopy: rule 'go_deepcopy' needs a Go module, and src/ks/go.mod has no" in found
    assert "BUILD.yaml:3: //ks:deepcopy: go_deepcopy needs tool 'controller-gen', which workspace.yaml" in found
