"""Versions from git tags, and the references that must name them, on git repositories the tests
make: the version scheme, KubeStellar's historical mistakes caught by `doit verify`, stamped outputs."""
from __future__ import annotations

import json

import pytest

from ksbuild.versioning import semver
from ksbuild.versioning.gitversions import VERSIONS_FILE, compute, versions
from tests.conftest import DODO, Workspace, commit_all, git

pytestmark = pytest.mark.integration



def test_the_version_scheme(tmp_path):
    repo = tmp_path / "repo"
    (repo / "comp").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "comp/file.txt").write_text("one\n")
    first = commit_all(repo)
    assert str(compute(str(repo / "comp")).version) == f"0.0.0-dev.1.g{first[:12]}"

    git(repo, "tag", "v0.2.0-alpha.1")
    tagged = compute(str(repo / "comp"))
    assert (tagged.version, tagged.tag, tagged.dirty) == ("0.2.0-alpha.1", "v0.2.0-alpha.1", False)

    second = commit_all(repo)
    after_pre = compute(str(repo / "comp")).version
    assert after_pre == f"0.2.0-alpha.1.dev.1.g{second[:12]}"

    git(repo, "tag", "v0.2.0")
    third = commit_all(repo)
    (repo / "comp/file.txt").write_text("dirty\n")
    dirty = compute(str(repo / "comp"))
    assert dirty.version == f"0.2.1-dev.1.g{third[:12]}.dirty" and dirty.dirty and not dirty.publishable
    assert dirty.released == ("0.2.0-alpha.1", "0.2.0")

    order = ["0.2.0-alpha.1", after_pre, "0.2.0", dirty.version, "0.2.1"]
    assert sorted(order, key=lambda v: semver.parse(v).sort_key()) == order, "development versions sort between"
    for version in order:
        assert semver.parse(version) is not None and semver.OCI_TAG.match(version) and "+" not in version

    # a component with its own tags in a shared repository
    git(repo, "tag", "osa/v1.4.0-rc.2", third)
    (repo / "comp/file.txt").write_text("one\n")
    assert compute(str(repo / "comp"), "osa/v*").version == "1.4.0-rc.2"


def test_numbered_release_candidates_end_at_the_highest_number(tmp_path):
    """ocm-status-addon's tags v0.2.0-rc5 ... v0.2.0-rc17: plain SemVer would call rc9 the latest."""
    repo = tmp_path / "osa"
    (repo / "comp").mkdir(parents=True)
    git(repo, "init", "-q")
    commits = {}
    for n in range(5, 18):
        (repo / "comp/file.txt").write_text(f"rc{n}\n")
        commits[n] = commit_all(repo, f"rc{n}")
        git(repo, "tag", f"v0.2.0-rc{n}")
    candidates = tuple(f"0.2.0-rc{n}" for n in range(5, 18))

    tagged = compute(str(repo / "comp"))
    assert (tagged.version, tagged.tag, tagged.commit) == ("0.2.0-rc17", "v0.2.0-rc17", commits[17])
    assert tagged.released == candidates and tagged.released[-1] == "0.2.0-rc17"
    assert tagged.ordering == semver.ORDERING

    after = commit_all(repo, "after rc17")
    assert compute(str(repo / "comp")).version == f"0.2.0-rc17.dev.1.g{after[:12]}"

    # a branch from rc9 follows rc9, the highest tag reachable from its HEAD, not the latest release
    git(repo, "checkout", "-q", "-b", "fix-rc9", commits[9])
    fix = commit_all(repo, "a fix on rc9")
    on_branch = compute(str(repo / "comp"))
    assert on_branch.version == f"0.2.0-rc9.dev.1.g{fix[:12]}" and on_branch.released[-1] == "0.2.0-rc17"
    order = ["0.2.0-rc9", on_branch.version, "0.2.0-rc10", "0.2.0-rc17", f"0.2.0-rc17.dev.1.g{after[:12]}", "0.2.0"]
    assert sorted(order[::-1], key=lambda v: semver.parse(v).sort_key()) == order
    git(repo, "checkout", "-q", after)

    # versions recorded before `ordering` existed, or under another rule, are recomputed, not loaded
    root, components = tmp_path / "ws", [("osa", str(repo / "comp"), "v*")]
    assert versions(str(root), components)["osa"].released[-1] == "0.2.0-rc17"
    state_path = root / VERSIONS_FILE
    state = json.loads(state_path.read_text())
    recorded = state["versions"]["osa"]
    for stale in ({k: v for k, v in recorded.items() if k != "ordering"},
                  {**recorded, "ordering": "SemVer precedence", "released": sorted(candidates)}):
        state_path.write_text(json.dumps({**state, "versions": {"osa": stale}}))
        again = versions(str(root), components)["osa"]
        assert (again.version, again.released[-1], again.ordering) == (
            f"0.2.0-rc17.dev.1.g{after[:12]}", "0.2.0-rc17", semver.ORDERING)
        assert json.loads(state_path.read_text())["versions"]["osa"]["ordering"] == semver.ORDERING


WORKSPACE = """\
components:
  ks:
    path: ks
    tags: ks/v*
  osa:
    path: osa
    tags: osa/v*
"""
KS_BUILD = """\
artifacts:
  controller-manager:
    kind: image
    repository: ghcr.io/kubestellar/kubestellar/controller-manager
  controller-manager-chart:
    kind: chart
    repository: ghcr.io/kubestellar/kubestellar/controller-manager-chart
    chart: chart
    image: ":controller-manager"
references:
  - file: hooks/kubestellar.yaml
    yaml: spec.args[1]
    artifact: ":controller-manager-chart"
    form: tag
    policy: pinned
  - file: hooks/kubestellar.yaml
    yaml: spec.image
    artifact: "//osa:status-addon"
    form: image
    policy: pinned
  - file: chart/values.yaml
    yaml: image
    artifact: ":controller-manager"
    form: image
    policy: stamp
"""
OSA_BUILD = """\
artifacts:
  status-addon:
    kind: image
    repository: ghcr.io/kubestellar/ocm-status-addon
  status-addon-chart:
    kind: chart
    repository: ghcr.io/kubestellar/ocm-status-addon-chart
    tag_prefix: v
    chart: chart
    image: ":status-addon"
"""
CHART = "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: {app}\n"
HOOK = "kind: PostCreateHook\nspec:\n  image: {image}\n  args: [--version, {chart}]\n"


@pytest.fixture
def released(tmp_path) -> Workspace:
    """A consistent workspace: ks at ks/v0.20.0-rc1, osa at osa/v0.2.0-alpha.1."""
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.write("dodo.py", DODO)
    ws.write(".gitignore", ".ksbuild/\n")
    ws.write("workspace.yaml", WORKSPACE)
    ws.write("ks/BUILD.yaml", KS_BUILD)
    ws.write("osa/BUILD.yaml", OSA_BUILD)
    ws.write("ks/chart/Chart.yaml", CHART.format(name="kcm", version="KSBUILD_VERSION", app="KSBUILD_VERSION"))
    ws.write("ks/chart/values.yaml", "image: ghcr.io/kubestellar/kubestellar/controller-manager:KSBUILD_VERSION\n")
    ws.write("ks/hooks/kubestellar.yaml", HOOK.format(image="ghcr.io/kubestellar/ocm-status-addon:0.2.0-alpha.1",
                                                      chart="0.20.0-rc1"))
    ws.write("osa/chart/Chart.yaml", CHART.format(name="osa", version="KSBUILD_VERSION", app="KSBUILD_VERSION"))
    git(ws.root, "init", "-q")
    commit_all(ws.root, "ks and osa")
    git(ws.root, "tag", "ks/v0.20.0-rc1")
    git(ws.root, "tag", "osa/v0.2.0-alpha.1")
    return ws


def test_a_consistent_workspace_passes_and_stamps_its_outputs(released):
    result = released.doit("verify")
    assert "every version reference is right" in result.stdout
    listing = released.doit("versions").stdout
    assert "//ks:controller-manager-chart" in listing and "ghcr.io/kubestellar/ocm-status-addon-chart:v0.2.0-alpha.1" \
        in listing
    assert "OK      ks/hooks/kubestellar.yaml:4\n        pinned //ks:controller-manager-chart" in listing
    sources = {p: p.read_bytes() for p in (released.root / "ks").rglob("*") if p.is_file()}

    released.doit()

    assert released.read(".ksbuild/out/ks/chart/Chart.yaml") == CHART.format(
        name="kcm", version="0.20.0-rc1", app="0.20.0-rc1")
    assert released.read(".ksbuild/out/ks/chart/values.yaml") == \
        "image: ghcr.io/kubestellar/kubestellar/controller-manager:0.20.0-rc1\n"
    assert released.read(".ksbuild/out/osa/chart/Chart.yaml") == CHART.format(  # its tag, `v` included
        name="osa", version="v0.2.0-alpha.1", app="0.2.0-alpha.1")
    assert {p: p.read_bytes() for p in (released.root / "ks").rglob("*") if p.is_file()} == sources
    assert git(released.root, "status", "--porcelain") == ""

    commit_all(released.root, "one more")  # a development version from now on, stamped into outputs
    released.doit()
    assert released.statuses()["ks:stamped"] == "executed"
    assert released.statuses()["osa:stamped"] == "executed"
    head = git(released.root, "rev-parse", "HEAD")[:12]
    assert f"version: 0.20.0-rc1.dev.1.g{head}\n" in released.read(".ksbuild/out/ks/chart/Chart.yaml")


@pytest.mark.parametrize("mistake, expected", [
    # rc1: the hook asked for chart v0.20.0-rc1; the release published 0.20.0-rc1
    (("ks/hooks/kubestellar.yaml", "--version, 0.20.0-rc1", "--version, v0.20.0-rc1"),
     "ks/hooks/kubestellar.yaml:4: //ks:controller-manager-chart: expected '0.20.0-rc1', found 'v0.20.0-rc1': "
     "//ks:controller-manager-chart is published without a `v`: its tag is 0.20.0-rc1 (that release exists)"),
    # a floating tag
    (("ks/hooks/kubestellar.yaml", "ocm-status-addon:0.2.0-alpha.1", "ocm-status-addon:latest"),
     "ks/hooks/kubestellar.yaml:3: //osa:status-addon: expected "
     "'ghcr.io/kubestellar/ocm-status-addon:0.2.0-alpha.1', found 'ghcr.io/kubestellar/ocm-status-addon:latest': "
     "'latest' is a floating or invalid tag"),
    # a version nobody released
    (("ks/hooks/kubestellar.yaml", "ocm-status-addon:0.2.0-alpha.1", "ocm-status-addon:0.2.0"),
     "ks/hooks/kubestellar.yaml:3: //osa:status-addon: expected 'ghcr.io/kubestellar/ocm-status-addon:0.2.0-alpha.1', "
     "found 'ghcr.io/kubestellar/ocm-status-addon:0.2.0': 0.2.0 is not a released version of //osa:status-addon "
     "(released: 0.2.0-alpha.1)"),
    # a hand-written version where a placeholder belongs (the committed self-reference of v0.30.0)
    (("ks/chart/values.yaml", ":KSBUILD_VERSION", ":0.20.0-alpha.1"),
     "ks/chart/values.yaml:1: //ks:controller-manager: expected "
     "'ghcr.io/kubestellar/kubestellar/controller-manager:KSBUILD_VERSION'"),
])
def test_historical_mistakes_are_reported_with_file_and_line(released, mistake, expected):
    path, old, new = mistake
    text = released.read(path)
    assert old in text
    released.write(path, text.replace(old, new), dedent=False)
    commit_all(released.root, "a mistake")
    result = released.doit("verify", "--json", "verify.json", check=False)
    assert result.returncode == 1, result.stdout
    assert expected in result.stdout
    assert "version reference(s) wrong" in result.stdout


def test_hand_written_chart_versions_are_information_and_stamped_over(released):
    # OSA's Chart.yaml said 0.2.0 while the tag was 0.2.0-alpha.1; rc1's appVersion said 0.1.0 beside
    # an image tagged 0.20.0-rc1: the build stamps both from the tags, whatever git holds
    released.write("osa/chart/Chart.yaml", CHART.format(name="osa", version="0.2.0", app="0.2.0"))
    released.write("ks/chart/Chart.yaml", CHART.format(name="kcm", version="KSBUILD_VERSION", app="0.1.0"))
    commit_all(released.root, "hand-written chart versions")
    git(released.root, "tag", "-f", "ks/v0.20.0-rc1")
    git(released.root, "tag", "-f", "osa/v0.2.0-alpha.1")
    listing = released.doit("versions").stdout
    assert "says '0.2.0' (information only: the build stamps v0.2.0-alpha.1)" in listing
    assert "says '0.1.0' (information only: the build stamps 0.20.0-rc1)" in listing
    released.doit()
    assert released.read(".ksbuild/out/osa/chart/Chart.yaml") == CHART.format(  # its tag, `v` included
        name="osa", version="v0.2.0-alpha.1", app="0.2.0-alpha.1")
    assert released.read(".ksbuild/out/ks/chart/Chart.yaml") == CHART.format(
        name="kcm", version="0.20.0-rc1", app="0.20.0-rc1")


def test_graph_draws_reference_edges_across_components(released):
    mermaid = released.doit("graph").stdout
    assert "f_ks_hooks_kubestellar_yaml -.-> a_osa_status_addon" in mermaid
    assert "f_ks_hooks_kubestellar_yaml -.-> a_ks_controller_manager_chart" in mermaid
    assert "f_osa_chart_Chart_yaml -.-> a_osa_status_addon" in mermaid
    assert 'a_osa_status_addon_chart{{"status-addon-chart<br/><i>chart</i>"}}' in mermaid
    dot = released.doit("graph", "--format", "dot").stdout
    assert "f_ks_hooks_kubestellar_yaml -> a_osa_status_addon [style=dashed];" in dot


def test_declaration_mistakes_are_refused(released):
    released.write("ks/BUILD.yaml", KS_BUILD.replace('artifact: "//osa:status-addon"', 'artifact: "//osa:nope"')
                   .replace("policy: stamp", "policy: sometimes"))
    result = released.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "ks/BUILD.yaml:25: reference 3: policy 'sometimes' is not one of stamp, pinned, current" in result.stderr
    released.write("ks/BUILD.yaml", KS_BUILD.replace('artifact: "//osa:status-addon"', 'artifact: "//osa:nope"'))
    result = released.doit(check=False)
    assert "ks/BUILD.yaml:16: reference in ks/hooks/kubestellar.yaml: unknown artifact '//osa:nope'" in result.stderr
