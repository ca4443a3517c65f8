"""References as real repositories write them (KubeStellar v0.30.0's chart, workflow and scripts): a
chart's committed version stamped anyway, `current` self-references, `agree` groups, image references
through `{{ .Values.X }}`, external artifacts, and `doit versions` that fails when one is wrong. Local
git repositories only."""
from __future__ import annotations

import json

import pytest

from tests.conftest import DODO, Workspace, commit_all, git

pytestmark = pytest.mark.integration

WORKSPACE = """\
components:
  ks:
    path: ks
    tags: ks/v*
"""
BUILD = """\
targets:
  manifests:
    rule: command
    srcs: [manifests.in]
    outs: [chart/templates/deploy.yaml]
    cmd: [sh, -c, "cp manifests.in chart/templates/deploy.yaml"]
artifacts:
  controller-manager:
    kind: image
    repository: ghcr.io/kubestellar/kubestellar/controller-manager
  core-chart:
    kind: chart
    repository: ghcr.io/kubestellar/kubestellar/core-chart
    chart: chart
    image: ":controller-manager"
  kubectl:
    kind: image
    repository: quay.io/kubestellar/kubectl
    external: true
    versions: [1.27.8, 1.32.13]
references:
  - file: chart/values.yaml
    yaml: KUBESTELLAR_VERSION
    artifact: ":controller-manager"
    form: version
    policy: current
  - file: .github/workflows/e2e.yaml
    regex: 'KUBESTELLAR_VERSION: "(?P<value>[^"]+)"'
    artifact: ":controller-manager"
    form: version
    policy: current
  - file: chart/templates/job.yaml
    regex: 'image: "(?P<value>[^"]+)"'
    artifact: ":kubectl"
    form: image
    policy: pinned
    agree: kubectl
    truth: true
  - file: scripts/cleanup.sh
    regex: '--image=(?P<value>\\S+)'
    artifact: ":kubectl"
    form: image
    policy: pinned
    agree: kubectl
  - file: chart/templates/deploy.yaml
    regex: 'image: (?P<value>\\S+)'
    artifact: ":controller-manager"
    form: image
    policy: stamp
"""
VALUES = 'KUBESTELLAR_VERSION: "0.30.0"\nKUBECTL_VERSION: "1.32.13"\n'
JOB = 'kind: Job\nspec:\n  image: "quay.io/kubestellar/kubectl:{{ .Values.KUBECTL_VERSION }}"\n'


@pytest.fixture
def repo(tmp_path) -> Workspace:
    """KubeStellar-like at tag ks/v0.30.0, with a chart whose Chart.yaml says 0.1.0 in git."""
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.write("dodo.py", DODO)
    ws.write(".gitignore", ".ksbuild/\n")
    ws.write("workspace.yaml", WORKSPACE)
    ws.write("ks/BUILD.yaml", BUILD)
    ws.write("ks/manifests.in", "kind: Deployment\nimage: ghcr.io/kubestellar/kubestellar/controller-manager:"
                                "KSBUILD_VERSION\n")
    ws.write("ks/chart/Chart.yaml", 'apiVersion: v2\nname: core-chart\nversion: "0.1.0"\nappVersion: "0.1.0"\n')
    ws.write("ks/chart/values.yaml", VALUES)
    ws.write("ks/chart/templates/job.yaml", JOB)
    ws.write("ks/scripts/cleanup.sh", "kubectl run x --image=quay.io/kubestellar/kubectl:1.32.13\n")
    ws.write("ks/.github/workflows/e2e.yaml", 'env:\n  KUBESTELLAR_VERSION: "0.30.0"\n')
    git(ws.root, "init", "-q")
    ws.doit()  # the derived chart template, then commit everything
    commit_all(ws.root, "ks")
    git(ws.root, "tag", "ks/v0.30.0")
    return ws


def versions(ws: Workspace, check: bool = True):
    result = ws.doit("versions", "--json", "versions.json", check=check)
    return result, json.loads(ws.read("versions.json"))


def test_a_release_passes_and_its_charts_committed_version_is_stamped_anyway(repo):
    result, report = versions(repo)
    assert report["ok"] is True
    assert "ks/chart/Chart.yaml:3" in result.stdout and "says '0.1.0' (information only: the build stamps 0.30.0)" \
        in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    verify = repo.doit("verify")
    assert "every version reference is right" in verify.stdout
    repo.doit()
    chart = repo.read(".ksbuild/out/ks/chart/Chart.yaml")
    assert 'version: "0.30.0"' in chart and 'appVersion: "0.30.0"' in chart
    assert repo.read("ks/chart/Chart.yaml").count('"0.1.0"') == 2  # the source is never edited


def test_a_workflow_pinning_an_older_release_is_caught_by_current(repo):
    repo.write("ks/.github/workflows/e2e.yaml", 'env:\n  KUBESTELLAR_VERSION: "0.22.0"\n')
    commit_all(repo.root, "the workflow lags")
    git(repo.root, "tag", "-f", "ks/v0.30.0")  # still the release commit
    result, report = versions(repo, check=False)
    assert result.returncode == 1
    wrong = [r for r in report["references"] if not r["ok"]]
    assert [(r["where"], r["found"], r["expected"]) for r in wrong] == [
        ("ks/.github/workflows/e2e.yaml:2", "0.22.0", "0.30.0")]
    assert "this commit is release 0.30.0" in wrong[0]["message"]
    verify = repo.doit("verify", check=False)
    assert verify.returncode == 1
    assert "ks/.github/workflows/e2e.yaml:2: //ks:controller-manager: expected '0.30.0', found '0.22.0'" in verify.stdout


def test_after_the_release_current_still_names_it(repo):
    repo.write("ks/notes.txt", "more work\n")
    commit_all(repo.root, "after the release")
    result, report = versions(repo)
    assert report["ok"] is True
    values = next(r for r in report["references"] if r["where"] == "ks/chart/values.yaml:1")
    assert values["expected"] == "0.30.0" and values["policy"] == "current"


def test_a_member_of_an_agree_group_that_disagrees_names_both_places(repo):
    repo.write("ks/scripts/cleanup.sh", "kubectl run x --image=quay.io/kubestellar/kubectl:1.27.8\n")
    commit_all(repo.root, "an old kubectl in a script")
    result, report = versions(repo, check=False)
    assert result.returncode == 1
    wrong = [r for r in report["references"] if not r["ok"]]
    assert len(wrong) == 1 and wrong[0]["where"] == "ks/scripts/cleanup.sh:1"
    assert wrong[0]["found"] == "quay.io/kubestellar/kubectl:1.27.8" and wrong[0]["expected"] == "1.32.13"
    assert ("disagrees with its `agree: kubectl` group: ks/chart/values.yaml:2 (the source of truth) says 1.32.13, "
            "this says 1.27.8") in wrong[0]["message"]


def test_an_image_through_values_is_judged_at_the_values_line(repo):
    repo.write("ks/chart/values.yaml", VALUES.replace("1.32.13", "1.30.0"))
    repo.write("ks/scripts/cleanup.sh", "kubectl run x --image=quay.io/kubestellar/kubectl:1.30.0\n")
    commit_all(repo.root, "an unreleased kubectl")
    result, report = versions(repo, check=False)
    wrong = {r["where"]: r for r in report["references"] if not r["ok"]}
    assert set(wrong) == {"ks/chart/values.yaml:2", "ks/scripts/cleanup.sh:1"}
    through = wrong["ks/chart/values.yaml:2"]
    assert through["found"] == "quay.io/kubestellar/kubectl:1.30.0"
    assert "1.30.0 is not a released version of //ks:kubectl (released: 1.27.8, 1.32.13)" in through["message"]
    assert "ks/chart/templates/job.yaml:3" in through["info"]
    repo.write("ks/chart/templates/job.yaml", JOB.replace(".Values.KUBECTL_VERSION", ".Values.NOPE"))
    _, report = versions(repo, check=False)
    missing = next(r for r in report["references"] if r["where"].startswith("ks/chart/templates/job.yaml"))
    assert "ks/chart/values.yaml has no NOPE (and the template gives no default)" in missing["message"]


def test_verify_judges_the_committed_file_not_the_rebuilt_one(repo):
    repo.write("ks/chart/templates/deploy.yaml", "kind: Deployment\nimage: ko.local/controller-manager:38156c6\n")
    commit_all(repo.root, "a local image committed in a derived file")
    result = repo.doit("verify", check=False)
    assert result.returncode == 1
    assert ("ks/chart/templates/deploy.yaml:2: //ks:controller-manager: expected "
            "'ghcr.io/kubestellar/kubestellar/controller-manager:KSBUILD_VERSION', found "
            "'ko.local/controller-manager:38156c6'") in result.stdout
    assert "does not resolve" not in result.stdout
    assert "ko.local/controller-manager:38156c6" in versions(repo, check=False)[0].stdout


def test_external_artifacts_cannot_be_stamped(repo):
    repo.write("ks/BUILD.yaml", BUILD.replace("    policy: pinned\n    agree: kubectl\n    truth: true",
                                              "    policy: stamp\n    agree: kubectl\n    truth: true"))
    result = repo.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "ks/BUILD.yaml:32: reference in ks/chart/templates/job.yaml: //ks:kubectl is external, so the reference " \
           "cannot be `stamp`" in result.stderr
