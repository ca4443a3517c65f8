"""What real kubebuilder-style repositories need, shown on the constellation with the real tools: an
API package importing its parent, a hand-written kustomization among generated CRDs, a target that
commits all or nothing, outputs that are checked, clients through goimports, per-component tool pins
with an older Go, images set at build time, and a repository that is itself the component."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Workspace

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")]

KS = "components/kubestellar"
OSA = "components/ocm-status-addon"
PROBE = "components/probe-operator"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `root` with its content and mtime (what 'exactly as before' means)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_editing_an_imported_package_reruns_its_importers(ws):
    group = ws.root / KS / "api/control/doc.go"
    group.write_text(group.read_text() + "\n// Version of the API group's documentation.\nconst docVersion = 1\n")

    ws.doit("generate")

    reasons = ws.reasons()
    assert ws.executed() >= {"kubestellar:deepcopy", "kubestellar:clients"}
    assert reasons["kubestellar:deepcopy"] == f"input changed: {KS}/api/control/doc.go"
    assert "ocm-status-addon:deepcopy" not in ws.executed()


def test_a_failed_second_action_leaves_the_tree_exactly_as_before(ws):
    types = ws.root / KS / "api/control/v1alpha1/types.go"
    marker = "\t// WantSingletonReportedState asks"
    types.write_text(types.read_text().replace(
        marker, "\t// Colour is new.\n\t// +optional\n\tColour string `json:\"colour,omitempty\"`\n\n" + marker))
    patch = ws.root / KS / "config/crd/patches/part-of.yaml"
    patch.write_text("- op: replace\n  path: /no/such/field\n  value: 1\n")
    before = snapshot(ws.root / KS)

    result = ws.doit("kubestellar:crds", check=False)

    assert result.returncode != 0
    assert "KustomizeBuild failed" in result.stdout + result.stderr
    assert "Nothing was written" in result.stdout + result.stderr
    assert snapshot(ws.root / KS) == before  # the CRDs controller-gen rewrote did not reach the tree


def test_hand_edited_outputs_are_repaired_from_the_cache_and_the_run_says_why(ws, generated):
    shutil.copytree(generated.parent / f"{generated.name}-action-cache", ws.env["KSBUILD_CACHE_DIR"])  # warm
    crd = ws.root / KS / "config/crd/bases/control.kubestellar.io_bindings.yaml"
    lister = ws.root / KS / "pkg/generated/listers/control/v1alpha1/binding.go"
    good = {crd: crd.read_bytes(), lister: lister.read_bytes()}
    crd.write_text(crd.read_text().replace("type: object", "type: string", 1))
    lister.write_text(lister.read_text() + "\n// edited by hand\n")

    ws.doit()

    statuses, reasons = ws.statuses(), ws.reasons()
    assert statuses["kubestellar:crds"] == statuses["kubestellar:clients"] == "cache-hit"
    assert reasons["kubestellar:crds"] == f"output changed since the last build: {crd.relative_to(ws.root)}"
    assert reasons["kubestellar:clients"] == f"output changed since the last build: {lister.relative_to(ws.root)}"
    assert {path: path.read_bytes() for path in good} == good
    ws.doit("generate")
    assert ws.executed() == set()


def test_a_hand_written_file_among_generated_crds_stays_and_is_read(ws):
    bases = ws.root / KS / "config/crd/bases"
    handwritten = bases / "kustomization.yaml"
    text = handwritten.read_text()
    stale = bases / "control.kubestellar.io_oldthings.yaml"  # a deleted type's CRD, with the marker
    stale.write_text((bases / "control.kubestellar.io_bindings.yaml").read_text().replace("bindings", "oldthings"))
    handwritten.write_text(text + "# a note\n")

    ws.doit("generate")

    assert handwritten.read_text() == text + "# a note\n"
    assert not stale.exists()
    assert "kubestellar:crds" in ws.executed()
    crds = ws.read(f"{KS}/pkg/crd/files/crds.yaml")
    assert crds.count("kind: CustomResourceDefinition") == 3
    assert crds.count("app.kubernetes.io/part-of: kubestellar") == 3


def test_clients_are_formatted_by_the_pinned_goimports(ws):
    client = ws.read(f"{KS}/pkg/generated/clientset/versioned/typed/control/v1alpha1/binding.go")
    imports = client[client.index("import ("):client.index(")\n", client.index("import ("))]
    groups = [block.split() for block in imports.split("\n\n")]
    assert any(all("github.com/kubestellar/" in word for word in group if word.startswith('"')) for group in groups), \
        imports  # the module's own imports stand apart (goimports -local)
    build = ws.root / KS / "BUILD.yaml"
    build.write_text(build.read_text().replace("args: [-w, -local, github.com/kubestellar]", "args: [-w]"))
    ws.doit("kubestellar:clients")
    assert ws.reasons()["kubestellar:clients"] == "command changed"


def test_components_pin_their_own_controller_gen_built_by_an_older_go(ws):
    osa_crd = ws.read(f"{OSA}/config/crd/bases/status.ocm.kubestellar.io_workstatuses.yaml")
    ks_crd = ws.read(f"{KS}/config/crd/bases/control.kubestellar.io_bindings.yaml")
    assert "controller-gen.kubebuilder.io/version: v0.14.0" in osa_crd
    assert "controller-gen.kubebuilder.io/version: v0.23.0" in ks_crd
    listing = ws.doit("tools").stdout
    binary = next(line.split()[-1] for line in listing.splitlines() if line.startswith("ocm-status-addon.controller-gen"))
    built = subprocess.run(["go", "version", binary], capture_output=True, text=True, check=True).stdout
    assert built.strip().endswith("go1.21.13"), built


def test_a_chart_names_the_image_its_artifact_says_without_touching_sources(ws):
    manager = ws.read(f"{OSA}/config/manager/kustomization.yaml")
    assert "newName: ko.local/ocm-status-addon" in manager
    operator = ws.read(f"{OSA}/chart/templates/operator.yaml")
    assert "image: ghcr.io/kubestellar/ocm-status-addon:KSBUILD_VERSION" in operator
    assert "ko.local" not in operator
    ws.doit()
    stamped = ws.read(".ksbuild/out/ocm-status-addon/chart/templates/operator.yaml")
    assert "image: ghcr.io/kubestellar/ocm-status-addon:0.0.0-dev." in stamped
    assert ws.read(f"{OSA}/config/manager/kustomization.yaml") == manager


def test_a_repository_that_is_the_component(tmp_path):
    repo = tmp_path / "probe"
    shutil.copytree(REPO / PROBE, repo, ignore=shutil.ignore_patterns(".ksbuild"))
    for step in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "probe"]):
        subprocess.run(["git", *step], cwd=repo, check=True)
    ws = Workspace(repo)
    env = ws.run_env()
    run = subprocess.run([sys.executable, "-m", "ksbuild.cli.main"], cwd=repo / "api", capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (repo / ".ksbuild/out/probe-operator/chart/Chart.yaml").is_file()
    assert "version: 0.0.0-dev.1.g" in (repo / ".ksbuild/out/probe-operator/chart/Chart.yaml").read_text()
    verify = subprocess.run([sys.executable, "-m", "ksbuild.cli.main", "verify"], cwd=repo, capture_output=True,
                            text=True, env=env, timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "every derived file is what the build produces" in verify.stdout
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""


def test_an_empty_path_is_the_workspace_root(workspace):
    workspace.write("workspace.yaml", "components:\n  solo:\n    path: ''\n")
    workspace.write("BUILD.yaml", """\
        targets:
          upper:
            rule: command
            srcs: [in.txt]
            outs: [out.txt]
            cmd: [sh, -c, "tr a-z A-Z < in.txt > out.txt"]
        """)
    workspace.write("in.txt", "hello\n")
    workspace.doit()
    assert workspace.read("out.txt") == "HELLO\n"


def test_a_go_tool_failure_names_the_package_it_could_not_load(ws):
    types = ws.root / OSA / "api/v1alpha1/types.go"
    types.write_text(types.read_text().replace('import (\n', 'import (\n\t_ "example.org/not/required"\n', 1))

    result = ws.doit("ocm-status-addon:deepcopy", check=False)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "GoDeepcopy failed" in output
    assert "example.org/not/required" in output.split("output:")[0]  # the hint, before the tool's own output
    assert "Traceback" not in output
