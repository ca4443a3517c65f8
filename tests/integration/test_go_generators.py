"""The constellation's Go derived files, made by the real pinned tools in sandboxes, from a copy whose
path has nothing to do with the Go module paths."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO, Workspace

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")]

KS = "components/kubestellar"
OSA = "components/ocm-status-addon"
KS_GENERATORS = {"kubestellar:deepcopy", "kubestellar:crds", "kubestellar:clients"}


def go(ws: Workspace, component: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["go", *args], cwd=ws.root / component, capture_output=True, text=True, timeout=600)


def test_generate_reproduces_the_committed_files_and_the_modules_compile(ws):
    for component in (KS, OSA):
        for path in (REPO / component).rglob("*"):
            if path.is_file():
                relative = path.relative_to(REPO)
                assert (ws.root / relative).read_bytes() == path.read_bytes(), f"{relative} differs from git"
        for step in (("build", "./..."), ("vet", "./...")):
            result = go(ws, component, *step)
            assert result.returncode == 0, f"go {' '.join(step)} in {component}:\n{result.stderr}"
    clients = sorted(p.relative_to(ws.root / KS / "pkg/generated").as_posix()
                     for p in (ws.root / KS / "pkg/generated").rglob("*.go"))
    assert "clientset/versioned/typed/control/v1alpha1/bindingpolicy.go" in clients
    assert "listers/control/v1alpha1/statuscollector.go" in clients
    assert "informers/externalversions/control/v1alpha1/binding.go" in clients
    assert sorted(p.name for p in (ws.root / KS / "pkg/crd/files").iterdir()) == ["crds.yaml"]
    assert sorted(p.name for p in (ws.root / KS / "config/crd/bases").iterdir()) == [
        "control.kubestellar.io_bindingpolicies.yaml", "control.kubestellar.io_bindings.yaml",
        "control.kubestellar.io_statuscollectors.yaml", "kustomization.yaml"]


def test_second_run_touch_and_readme_edit_execute_nothing(ws):
    ws.doit("generate")
    assert ws.executed() == set()
    types = ws.root / KS / "api/control/v1alpha1/types.go"
    types.touch()
    (ws.root / KS / "go.sum").touch()
    ws.doit("generate")
    assert ws.executed() == set()
    readme = ws.root / KS / "README.md"
    readme.write_text(readme.read_text() + "\nMore words.\n")
    ws.doit("generate")
    assert ws.executed() == set()


def test_a_new_field_reruns_exactly_that_components_generators(ws):
    types = ws.root / KS / "api/control/v1alpha1/types.go"
    source = types.read_text()
    field = ("\t// Tolerations lists the taints a destination may have.\n"
             "\t// +optional\n\tTolerations []string `json:\"tolerations,omitempty\"`\n")
    marker = "\t// WantSingletonReportedState asks"
    types.write_text(source.replace(marker, field + "\n" + marker))
    before = {p: p.read_bytes() for p in (ws.root / KS / "pkg/generated").rglob("*.go")}

    ws.doit("generate")

    assert ws.executed() == KS_GENERATORS
    assert ws.reasons()["kubestellar:deepcopy"] == f"input changed: {KS}/api/control/v1alpha1/types.go"
    deepcopy = ws.read(f"{KS}/api/control/v1alpha1/zz_generated.deepcopy.go")
    assert "in.Tolerations, &out.Tolerations" in deepcopy
    policy = ws.read(f"{KS}/config/crd/bases/control.kubestellar.io_bindingpolicies.yaml")
    assert re.search(r"^ +tolerations:\n +description: Tolerations lists", policy, re.M)
    assert "tolerations" not in ws.read(f"{KS}/config/crd/bases/control.kubestellar.io_bindings.yaml")
    stream = ws.read(f"{KS}/pkg/crd/files/crds.yaml")
    assert re.search(r"^ +tolerations:\n +description: Tolerations lists", stream, re.M)
    assert {p: p.read_bytes() for p in (ws.root / KS / "pkg/generated").rglob("*.go")} == before, \
        "a field changes no client code"
    assert "tolerations" not in ws.read(f"{KS}/chart/templates/controller-manager.yaml")
    assert go(ws, KS, "vet", "./...").returncode == 0


def test_a_deleted_type_loses_its_clients_and_crd(ws):
    types = ws.root / KS / "api/control/v1alpha1/types.go"
    source = types.read_text()
    start = source.index("// StatusCollector says")
    types.write_text(source[:start])
    register = ws.root / KS / "api/control/v1alpha1/register.go"
    register.write_text(register.read_text().replace("\t\t&StatusCollector{}, &StatusCollectorList{},\n", ""))
    bases = ws.root / KS / "config/crd/bases/kustomization.yaml"  # written by hand: the user edits it
    bases.write_text(bases.read_text().replace("- control.kubestellar.io_statuscollectors.yaml\n", ""))

    ws.doit("generate")

    assert ws.executed() == KS_GENERATORS
    generated = [p.as_posix() for p in (ws.root / KS / "pkg/generated").rglob("*") if "statuscollector" in p.name]
    assert generated == []
    assert (ws.root / KS / "pkg/generated/listers/control/v1alpha1/binding.go").is_file()
    assert not (ws.root / KS / "config/crd/bases/control.kubestellar.io_statuscollectors.yaml").exists()
    assert (ws.root / KS / "config/crd/bases/control.kubestellar.io_bindings.yaml").is_file()
    assert (ws.root / KS / "config/crd/bases/kustomization.yaml").is_file()
    assert result_names(ws.read(f"{KS}/pkg/crd/files/crds.yaml")) == [
        "bindingpolicies.control.kubestellar.io", "bindings.control.kubestellar.io"]
    assert "func (in *StatusCollector)" not in ws.read(f"{KS}/api/control/v1alpha1/zz_generated.deepcopy.go")
    result = go(ws, KS, "build", "./...")
    assert result.returncode == 0, result.stderr
    ws.doit("generate")
    assert ws.executed() == set()


def test_an_rbac_marker_reaches_the_role_and_the_chart_only(ws):
    controller = ws.root / OSA / "pkg/controller/controller.go"
    marker = "// +kubebuilder:rbac:groups=\"\",resources=events,verbs=create;patch\n"
    controller.write_text(controller.read_text().replace("// Scheme returns", marker + "\n// Scheme returns"))

    ws.doit("generate")

    # deepcopy reads only api/v1alpha1; the CRD step (with RBAC) scans ./... and the chart reads its role
    assert ws.executed() == {"ocm-status-addon:manifests", "ocm-status-addon:chart"}
    assert "  - events\n" in ws.read(f"{OSA}/config/rbac/role.yaml")
    assert "  - events\n" in ws.read(f"{OSA}/chart/templates/operator.yaml")
    assert "events" not in ws.read(f"{OSA}/chart/crds/crds.yaml")


def test_bumping_a_tool_pin_reruns_the_actions_that_use_it(ws):
    workspace_yaml = ws.root / "workspace.yaml"
    workspace_yaml.write_text(workspace_yaml.read_text().replace("version: v5.7.1", "version: v5.8.1"))

    ws.doit("generate")

    # ocm-status-addon pins its own kustomize: it is not affected
    assert ws.executed() == {"kubestellar:chart-templates", "kubestellar:crds", "probe-operator:chart"}
    assert set(ws.reasons().values()) - {""} == {"tool changed"}
    listing = ws.doit("tools").stdout
    assert re.search(r"^kustomize +v5\.8\.1 \(go1\.26\.8\) +[0-9a-f]{64} ", listing, re.M), listing


def test_crds_second_place_as_one_kustomized_file(ws):
    shutil.rmtree(ws.root / KS / "pkg/crd/files")

    ws.doit("kubestellar:crds")

    assert ws.executed() | {s for s, v in ws.statuses().items() if v == "cache-hit"} >= {"kubestellar:crds"}
    assert sorted(p.name for p in (ws.root / KS / "pkg/crd/files").iterdir()) == ["crds.yaml"]
    aggregate = ws.read(f"{KS}/pkg/crd/files/crds.yaml")
    assert aggregate.count("kind: CustomResourceDefinition") == 3
    assert aggregate.count("app.kubernetes.io/part-of: kubestellar") == 3  # the JSON6902 patch
    assert result_names(aggregate) == ["bindingpolicies.control.kubestellar.io", "bindings.control.kubestellar.io",
                                       "statuscollectors.control.kubestellar.io"]


def result_names(stream: str) -> list[str]:
    return sorted(re.findall(r"^  name: (\S+)$", stream, re.M))
