"""`doit verify` says why a derived file is wrong: what differs in a YAML file's data (not only its
text), and HAND-EDITED only when git proves that no file the target is built from, through every
target it reads, changed with it or since."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.conftest import Workspace, commit_all, git

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")]

OSA = "components/ocm-status-addon"
TYPES = f"{OSA}/api/v1alpha1/types.go"
OPERATOR = f"{OSA}/chart/templates/operator.yaml"
CHART_CRDS = f"{OSA}/chart/crds/crds.yaml"
CRD_BASE = f"{OSA}/config/crd/bases/status.ocm.kubestellar.io_workstatuses.yaml"
IMAGE = "ghcr.io/kubestellar/ocm-status-addon:KSBUILD_VERSION"
CRD_NAME = "CustomResourceDefinition workstatuses.status.ocm.kubestellar.io"
STATUS_FIELDS = "spec.versions[0].schema.openAPIV3Schema.properties.status.properties"




def verify(ws: Workspace):
    result = ws.doit("verify", "--json", "report.json", check=False)
    report = json.loads(ws.read("report.json"))
    (ws.root / "report.json").unlink()
    found = {(f["kind"], f["path"], f["target"]) for f in report["findings"]}
    return result, found


def reformat(text: str) -> str:
    """The same data as another YAML tool writes it: 4-space indents, sequences indented under their key."""
    class Indented(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

    return yaml.dump_all(yaml.safe_load_all(text), Dumper=Indented, indent=4, sort_keys=False, width=1000)


def add_status_field(ws: Workspace, go_name: str, json_name: str) -> None:
    types = ws.root / TYPES
    anchor = "\t// +kubebuilder:pruning:PreserveUnknownFields\n"
    assert anchor in types.read_text()
    types.write_text(types.read_text().replace(anchor, (
        f"\t// {go_name} says more about the status.\n\t// +optional\n"
        f"\t{go_name} string `json:\"{json_name},omitempty\"`\n\n" + anchor)))


def test_a_reindented_file_with_a_changed_image_names_the_image_path_and_both_values(clone):
    operator = clone.root / OPERATOR
    operator.write_text(reformat(operator.read_text()).replace(IMAGE, "ko.local/ocm-status-addon:dev"))
    commit_all(clone.root, "re-indent the operator and point it at a local image")
    result, found = verify(clone)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("hand-edited", OPERATOR, "ocm-status-addon:chart") in found
    assert ("Deployment open-cluster-management/ocm-status-addon-controller: "
            f"spec.template.spec.containers[0].image: committed 'ko.local/ocm-status-addon:dev' vs built '{IMAGE}'"
            in result.stdout)
    assert "the YAML data differs in 1 place(s):" in result.stdout
    assert "formatting only" not in result.stdout
    assert "more lines of diff)" in result.stdout  # the text diff follows, cut: it is re-indentation throughout


def test_a_pure_reindent_is_reported_as_formatting_only(clone):
    operator = clone.root / OPERATOR
    operator.write_text(reformat(operator.read_text()))
    commit_all(clone.root, "re-indent the operator")
    result, found = verify(clone)
    assert result.returncode == 1, result.stdout + result.stderr
    assert found == {("hand-edited", OPERATOR, "ocm-status-addon:chart")}
    assert ("formatting only: the YAML data is the same (indentation, quoting, key order or comments differ)"
            in result.stdout)


def test_a_forgotten_chart_regeneration_is_stale_not_hand_edited(clone):
    # History where the chart's last change is a commit of its own, touching none of its direct inputs:
    # a field, its CRDs, then the chart regenerated separately.
    add_status_field(clone, "Reason", "reason")
    clone.doit("ocm-status-addon:chart")
    git(clone.root, "add", "-A", "--", ":!" + f"{OSA}/chart")
    git(clone.root, "commit", "-qm", "a status field and its CRD")
    commit_all(clone.root, "regenerate the chart")
    # Then a second field whose CRD is regenerated, but not the chart: the chart's own inputs name the
    # CRD directory only through ksbuild's manifest, which git does not track.
    add_status_field(clone, "StatusDetails", "statusDetails")
    clone.doit("ocm-status-addon:manifests")
    commit_all(clone.root, "another status field; the chart is forgotten")
    assert git(clone.root, "status", "--porcelain") == ""

    result, found = verify(clone)
    assert result.returncode == 1, result.stdout + result.stderr
    assert found == {("stale", CHART_CRDS, "ocm-status-addon:chart")}, result.stdout
    assert f"STALE        {CHART_CRDS}  (ocm-status-addon:chart)" in result.stdout
    assert "HAND-EDITED" not in result.stdout
    assert f"{CRD_NAME}: {STATUS_FIELDS}.statusDetails: missing in the committed file" in result.stdout


def test_a_generated_crd_edited_by_hand_is_still_hand_edited(clone):
    crd = clone.root / CRD_BASE
    assert "scope: Namespaced" in crd.read_text()
    crd.write_text(crd.read_text().replace("scope: Namespaced", "scope: Cluster"))
    commit_all(clone.root, "edit the CRD by hand")
    result, found = verify(clone)
    assert result.returncode == 1, result.stdout + result.stderr
    assert found == {("hand-edited", CRD_BASE, "ocm-status-addon:manifests")}
    assert "changed it without changing any of its inputs, and none changed since" in result.stdout
    assert f"{CRD_NAME}: spec.scope: committed 'Cluster' vs built 'Namespaced'" in result.stdout
