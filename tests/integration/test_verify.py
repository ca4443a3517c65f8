"""`doit verify` on throw-away git clones of the constellation: each finding, clean and dirty trees,
reports, and a working tree, index and timestamps left exactly as they were."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.conftest import Workspace, commit_all, copy_constellation, git

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")]

KS = "components/kubestellar"
TYPES = f"{KS}/api/control/v1alpha1/types.go"





def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """mtime and size of every file but ksbuild's own state: the tree, .git and its index."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and ".ksbuild" not in p.parts}


def verify(ws: Workspace, *args: str):
    status = git(ws.root, "status", "--porcelain")  # before the snapshot: `git status` may refresh the index
    before = snapshot(ws.root)
    result = ws.doit("verify", "--junit", "report.xml", "--json", "report.json", *args, check=False)
    after = snapshot(ws.root)
    for report in ("report.xml", "report.json"):
        after.pop(report, None)
        before.pop(report, None)
    assert after == before, "verify changed the tree, the index or a timestamp"
    reports = ("?? report.json", "?? report.xml")
    assert [line for line in git(ws.root, "status", "--porcelain").splitlines() if line not in reports] \
        == [line for line in status.splitlines() if line not in reports]
    return result


def findings(ws: Workspace) -> set[tuple[str, str, str]]:
    report = json.loads(ws.read("report.json"))
    return {(f["kind"], f["path"], f["target"]) for f in report["findings"]}


def junit_failures(ws: Workspace) -> dict[str, str]:
    suite = ElementTree.fromstring(ws.read("report.xml"))
    return {case.get("name"): case.find("failure").get("message") for case in suite.iter("testcase")
            if case.find("failure") is not None}


def test_a_clean_tree_passes_from_the_cache(clone):
    result = verify(clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 derived-file target(s), 10 from the action cache, 0 run" in result.stdout
    assert "every derived file is what the build produces" in result.stdout
    # the commit is planned as the working tree is: only what the checks read is written out
    read = int(result.stdout.split("planned as the working tree is; ")[1].split(" of its files read")[0])
    assert 0 < read < len(git(clone.root, "ls-files").splitlines())
    report = json.loads(clone.read("report.json"))
    assert report["ok"] is True and report["findings"] == [] and len(report["targets"]) == 10
    suite = ElementTree.fromstring(clone.read("report.xml"))
    assert (suite.get("tests"), suite.get("failures")) == ("12", "0")  # targets, tool pins, references
    assert "every version reference is right" in result.stdout


def test_stale_files_after_an_api_change_committed_without_regenerating(clone):
    types = clone.root / TYPES
    types.write_text(types.read_text().replace(
        "\t// WantSingletonReportedState asks",
        "\t// Tolerations lists taints.\n\t// +optional\n\tTolerations []string `json:\"tolerations,omitempty\"`\n\n"
        "\t// WantSingletonReportedState asks"))
    commit_all(clone.root, "a field, without its derived files")
    result = verify(clone)
    assert result.returncode == 1
    assert findings(clone) == {
        ("stale", f"{KS}/api/control/v1alpha1/zz_generated.deepcopy.go", "kubestellar:deepcopy"),
        ("stale", f"{KS}/config/crd/bases/control.kubestellar.io_bindingpolicies.yaml", "kubestellar:crds"),
        ("stale", f"{KS}/pkg/crd/files/crds.yaml", "kubestellar:crds")}
    assert f"STALE        {KS}/config/crd/bases/control.kubestellar.io_bindingpolicies.yaml  (kubestellar:crds)" \
        in result.stdout
    assert "fix: doit kubestellar:crds (or doit generate), then commit" in result.stdout
    assert "+              tolerations:" in result.stdout
    assert set(junit_failures(clone)) == {"kubestellar:deepcopy", "kubestellar:crds"}


def test_missing_and_extra_files_of_a_deleted_type(clone):
    source = (clone.root / TYPES).read_text()
    (clone.root / TYPES).write_text(source[:source.index("// StatusCollector says")])
    register = clone.root / f"{KS}/api/control/v1alpha1/register.go"
    register.write_text(register.read_text().replace("\t\t&StatusCollector{}, &StatusCollectorList{},\n", ""))
    bases = clone.root / f"{KS}/config/crd/bases/kustomization.yaml"
    bases.write_text(bases.read_text().replace("- control.kubestellar.io_statuscollectors.yaml\n", ""))
    (clone.root / f"{KS}/pkg/generated/listers/control/v1alpha1/binding.go").unlink()
    commit_all(clone.root, "delete a type, and a generated file by mistake")
    result = verify(clone)
    assert result.returncode == 1
    found = findings(clone)
    assert ("missing", f"{KS}/pkg/generated/listers/control/v1alpha1/binding.go", "kubestellar:clients") in found
    for path in (f"{KS}/pkg/generated/listers/control/v1alpha1/statuscollector.go",
                 f"{KS}/pkg/generated/clientset/versioned/typed/control/v1alpha1/statuscollector.go",
                 f"{KS}/config/crd/bases/control.kubestellar.io_statuscollectors.yaml"):
        assert any(kind == "extra" and p == path for kind, p, _ in found), path
    assert ("stale", f"{KS}/pkg/crd/files/crds.yaml", "kubestellar:crds") in found
    assert "EXTRA" in result.stdout and "MISSING" in result.stdout


def test_a_hand_edited_generated_file(clone):
    crd = clone.root / f"{KS}/config/crd/bases/control.kubestellar.io_bindings.yaml"
    crd.write_text(crd.read_text().replace("scope: Cluster", "scope: Namespaced"))
    commit_all(clone.root, "edit a CRD by hand")
    result = verify(clone)
    assert result.returncode == 1
    assert findings(clone) == {("hand-edited", str(crd.relative_to(clone.root)), "kubestellar:crds")}
    assert "changed it without changing any of its inputs" in result.stdout
    assert "-  scope: Namespaced" in result.stdout and "+  scope: Cluster" in result.stdout


def test_a_dirty_tree_is_verified_as_committed_or_as_it_is(clone):
    types = clone.root / TYPES
    types.write_text(types.read_text().replace("shortName=bp", "shortName=bpol"))
    generated = clone.root / f"{KS}/chart/templates/controller-manager.yaml"
    generated.write_text(generated.read_text() + "# an edit\n")

    committed = verify(clone)
    assert committed.returncode == 0, committed.stdout
    assert "planned as the working tree is" not in committed.stdout  # a Go file the planner read changed
    assert "uncommitted changes to derived files or their inputs (not checked" in committed.stdout
    assert TYPES in committed.stdout

    working = verify(clone, "--worktree")
    assert working.returncode == 1
    found = findings(clone)
    assert ("stale", f"{KS}/config/crd/bases/control.kubestellar.io_bindingpolicies.yaml", "kubestellar:crds") in found
    assert ("hand-edited", str(generated.relative_to(clone.root)), "kubestellar:chart-templates") in found
    assert "hand-edited: it has uncommitted changes, and none of its inputs do" in working.stdout
    assert "shortName=bpol" in types.read_text() and generated.read_text().endswith("# an edit\n")


def test_an_ignored_file_the_planner_saw_checks_the_whole_commit(clone):
    (clone.root / ".git/info/exclude").write_text("scratch.go\n")  # ignored: not in `git status`
    clone.write(f"{KS}/api/control/v1alpha1/scratch.go", "package v1alpha1\n")  # yet the working tree plans it
    result = verify(clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "planned as the working tree is" not in result.stdout
    assert "every derived file is what the build produces" in result.stdout


def test_configuration_and_usage_errors_exit_2(clone, tmp_path):
    workspace_yaml = clone.root / "workspace.yaml"
    good = workspace_yaml.read_text()
    workspace_yaml.write_text(good.replace("version: v5.7.1", "version: latest"))
    commit_all(clone.root, "a floating pin")
    workspace_yaml.write_text(good)  # the working tree is fine; HEAD is not
    result = verify(clone)
    assert result.returncode == 2
    assert "the checked tree's workspace is wrong" in result.stdout + result.stderr
    assert "version 'latest' is not exact (it floats)" in result.stdout + result.stderr

    workspace_yaml.write_text(good + "surprise: 1\n")  # a working tree doit cannot even load
    assert clone.doit("verify", check=False).returncode == 2  # a configuration error
    ksbuild = subprocess.run([sys.executable, "-m", "ksbuild.cli.main", "verify"], cwd=clone.root,
                             capture_output=True, text=True, env=clone.run_env())
    assert ksbuild.returncode == 2, ksbuild.stderr  # verify's contract for CI
    assert "unknown key 'surprise' in workspace.yaml" in ksbuild.stderr
    workspace_yaml.write_text(good)

    loose = copy_constellation(tmp_path / "not-a-repo")
    loose.env["KSBUILD_CACHE_DIR"] = clone.env["KSBUILD_CACHE_DIR"]
    result = loose.doit("verify", check=False)
    assert result.returncode == 2
    assert "is not inside a git repository" in result.stdout + result.stderr
