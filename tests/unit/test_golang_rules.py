"""The Go rules as plans: module-path layout, generator flags, owned directories read whole."""
import re

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


def test_an_imported_parent_package_is_an_input_and_a_missing_one_an_error(ws):
    ws.write("src/ks/api/control/group.go", "package control\n\nconst Group = \"control.example.com\"\n")
    ws.write("src/ks/api/control/v1alpha1/types.go",
             f'package v1alpha1\n\nimport (\n\t"fmt"\n\n\tcontrol "{MODULE}/api/control"\n)\n')
    plans = plan(ws, """\
        targets:
          deepcopy: {rule: go_deepcopy, packages: [api/control/v1alpha1], header: hack/header.txt}
        """)
    assert "src/ks/api/control/group.go" in plans["ks:deepcopy"].inputs
    action = plans["ks:deepcopy"].actions[0]
    assert (f"{MODULE}/api/control/group.go", "src/ks/api/control/group.go") in action.inputs
    ws.write("src/ks/api/control/v1alpha1/types.go", f'package v1alpha1\n\nimport "{MODULE}/api/gone"\n')
    found = problems(ws, (ws.root / "src/ks/BUILD.yaml").read_text())
    assert found[0].startswith(f"src/ks/api/control/v1alpha1/types.go:3: import '{MODULE}/api/gone': no such package")


def test_a_hand_written_file_in_an_owned_directory_is_a_source_without_a_cycle(ws):
    ws.write("src/ks/config/crd/bases/kustomization.yaml", "resources: [example.com_things.yaml]\n")
    ws.write("src/ks/config/crd/kustomization.yaml", "resources: [bases]\n")
    plans = plan(ws, """\
        targets:
          crds:
            rule: crd
            packages: [./api/...]
            kustomize_dir: config/crd
            kustomize_out: pkg/crd/files/crds.yaml
        """)
    crds = plans["ks:crds"]
    assert "src/ks/config/crd/bases/kustomization.yaml" in crds.inputs
    generate, kustomize = crds.actions
    assert all("config/crd" not in workspace for _, workspace in generate.inputs)
    assert ("src/ks/config/crd/bases/kustomization.yaml" in [w for _, w in kustomize.inputs])
    assert kustomize.input_dirs == generate.output_dirs
    assert generate.dir_marker == r"controller-gen\.kubebuilder\.io/version"


def test_kustomization_resources_are_inputs_and_a_missing_one_is_located(ws):
    ws.write("src/ks/config/default/kustomization.yaml", "resources:\n- ../manager\n")
    ws.write("src/ks/config/manager/kustomization.yaml", "resources:\n- manager.yaml\n- service.yaml\n")
    ws.write("src/ks/config/manager/manager.yaml", "kind: Deployment\n")
    build = """\
        targets:
          templates: {rule: helm_templates, kustomize_dir: config/default, out: chart/templates/all.yaml}
        """
    found = problems(ws, build)
    assert found[0].startswith("src/ks/config/manager/kustomization.yaml:3: ")
    assert "service.yaml" in found[0]
    ws.write("src/ks/config/manager/service.yaml", "kind: Service\n")
    plans = plan(ws, build)
    assert plans["ks:templates"].inputs == (
        "src/ks/config/default/kustomization.yaml", "src/ks/config/manager/kustomization.yaml",
        "src/ks/config/manager/manager.yaml", "src/ks/config/manager/service.yaml")


def test_component_pins_tool_pins_and_format_steps(ws):
    ws.write("workspace.yaml", WORKSPACE.replace("    path: src/ks\n", """\
    path: src/ks
    go: "1.26.8"
    tools:
      controller-gen: {package: sigs.k8s.io/controller-tools/cmd/controller-gen, version: v0.14.0, go: "1.21.13"}
      cg-new: {package: sigs.k8s.io/controller-tools/cmd/controller-gen, version: v0.23.0}
      goimports: {package: golang.org/x/tools/cmd/goimports, version: v0.52.0}
"""))
    plans = plan(ws, """\
        targets:
          old:
            rule: go_deepcopy
            packages: [api/control/v1alpha1]
            header: hack/header.txt
            format: [{tool: goimports, args: [-w, -local, example.com], files: "api/**/*.go"}]
          new:
            rule: go_deepcopy
            packages: [api/other/v1]
            header: hack/header.txt
            tool_pins: {controller-gen: cg-new}
        """)
    old, new = plans["ks:old"].actions[0], plans["ks:new"].actions[0]
    assert (old.tools[0].version, old.tools[0].go, old.tools[0].task) == ("v0.14.0", "1.21.13", "tool:ks.controller-gen")
    assert (new.tools[0].version, new.tools[0].go) == ("v0.23.0", "1.26.8")
    assert old.go_version == new.go_version == "1.26.8"
    step = old.format[0]
    assert (step.tool.name, step.args) == ("goimports", ("-w", "-local", "example.com"))
    assert re.fullmatch(step.pattern, "src/ks/api/control/v1alpha1/zz_generated.deepcopy.go")
    assert not new.format


def test_pin_and_format_mistakes_are_located(ws):
    ws.write("workspace.yaml", WORKSPACE + "go: 1.22\n")
    found = "\n".join(problems(ws, "targets: {}\n"))
    assert "workspace.yaml:10: workspace.yaml: field 'go' must be a string, not float 1.22" in found
    ws.write("workspace.yaml", WORKSPACE + 'go: "1.22"\n')
    found = "\n".join(problems(ws, "targets: {}\n"))
    assert "workspace.yaml:10: workspace: go '1.22' is not a Go release" in found
    ws.write("workspace.yaml", WORKSPACE + "  bad: {package: '--upload-pack=x', version: v1.0.0}\n")
    found = "\n".join(problems(ws, "targets: {}\n"))
    assert "workspace.yaml:10: tool 'bad': package '--upload-pack=x' is not a Go package path" in found
    ws.write("workspace.yaml", WORKSPACE)
    found = "\n".join(problems(ws, """\
        targets:
          deepcopy:
            rule: go_deepcopy
            packages: [api/control/v1alpha1]
            header: hack/header.txt
            tool_pins: {controller-gen: nosuch}
            format: [{tool: gofmt, arg: [-w]}]
        """))
    assert "BUILD.yaml:7: unknown key 'arg' in target 'deepcopy': format step 1" in found
    found = "\n".join(problems(ws, """\
        targets:
          deepcopy:
            rule: go_deepcopy
            packages: [api/control/v1alpha1]
            header: hack/header.txt
            tool_pins: {controller-gen: nosuch}
        """))
    assert "BUILD.yaml:6: //ks:deepcopy: go_deepcopy needs tool 'nosuch' (for 'controller-gen')" in found
