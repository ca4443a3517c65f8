"""Components fetched from local git repositories: at a tag and at a SHA, locked in workspace.lock,
with an overlay BUILD.yaml, a version from their own tags (which ksbuild's own outputs in the checkout
do not make dirty), a checkout moved to the locked commit (refused only when it has changes of its
own), and verify's fix for stale derived files committed upstream."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import DODO, Workspace, commit_all, git

pytestmark = pytest.mark.integration
UPSTREAM_BUILD = """\
targets:
  shout:
    rule: command
    srcs: [message.txt]
    outs: [out/shout.txt]
    cmd: [sh, -c, "tr a-z A-Z < message.txt > out/shout.txt"]
artifacts:
  tool:
    kind: image
    repository: quay.io/example/tool
"""
# A derived file committed upstream, as its authors last generated it (stale: not upper case).
DERIVED_BUILD = """\
targets:
  upper:
    rule: command
    srcs: [message.txt]
    outs: [upper.txt]
    cmd: [sh, -c, "tr a-z A-Z < message.txt > upper.txt"]
artifacts:
  tool:
    kind: image
    repository: quay.io/example/tool
"""


@pytest.fixture
def upstream(tmp_path) -> tuple[Path, dict[str, str]]:
    """A repository with two tagged releases; returns its path and tag -> commit."""
    repo = tmp_path / "upstream"
    repo.mkdir()
    git(repo, "init", "-q")
    commits = {}
    for version in ("v1.0.0", "v1.1.0"):
        (repo / "message.txt").write_text(f"hello from {version}\n")
        (repo / "BUILD.yaml").write_text(UPSTREAM_BUILD)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", version)
        git(repo, "tag", version)
        commits[version] = git(repo, "rev-parse", "HEAD")
    return repo, commits


@pytest.fixture
def derived_upstream(tmp_path) -> tuple[Path, dict[str, str]]:
    """Two tagged releases that commit a stale derived file (upper.txt): the build rewrites it."""
    repo = tmp_path / "derived-upstream"
    repo.mkdir()
    git(repo, "init", "-q")
    commits = {}
    for version in ("v1.0.0", "v1.1.0"):
        (repo / "message.txt").write_text(f"hello from {version}\n")
        (repo / "upper.txt").write_text(f"stale {version}\n")
        (repo / "BUILD.yaml").write_text(DERIVED_BUILD)
        commits[version] = commit_all(repo, version)
        git(repo, "tag", version)
    return repo, commits


def workspace(tmp_path: Path, url: str, rev: str) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir(exist_ok=True)
    ws.write("dodo.py", DODO)
    pin(ws, url, rev)
    ws.env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # the git mirrors
    return ws


def pin(ws: Workspace, url: str, rev: str) -> None:
    ws.write("workspace.yaml", f"components:\n  clusteradm:\n    git: {url}\n    rev: {rev}\n", dedent=False)


def lock(ws: Workspace) -> dict:
    return yaml.safe_load(ws.read("workspace.lock"))["components"]


def tool_version(ws: Workspace) -> str:
    """The version `doit versions` gives the component's artifact."""
    found = re.search(r"^//clusteradm:tool\s+image\s+(\S+)$", ws.doit("versions").stdout, re.MULTILINE)
    assert found, "no version for //clusteradm:tool"
    return found[1]


def test_a_tag_then_a_sha_locked_and_versioned(upstream, tmp_path):
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.0.0")
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.0.0\n"
    assert lock(ws) == {"clusteradm": {"git": repo.as_uri(), "rev": "v1.0.0", "commit": commits["v1.0.0"]}}
    assert tool_version(ws) == "1.0.0"

    # the tag moves upstream: the lock keeps the build where it was
    git(repo, "tag", "-f", "v1.0.0", commits["v1.1.0"])
    ws.doit()
    assert ws.executed() == set()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.0.0\n"

    pin(ws, repo.as_uri(), commits["v1.1.0"])
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.1.0\n"
    assert lock(ws)["clusteradm"]["commit"] == commits["v1.1.0"]
    assert tool_version(ws) == "1.1.0"


def test_a_checkout_moved_by_hand_goes_back_to_the_lock_unless_it_has_changes_of_its_own(upstream, tmp_path):
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    ws.doit()
    checkout = ws.root / ".ksbuild/src/clusteradm"
    git(checkout, "checkout", "-q", "--detach", commits["v1.0.0"])
    result = ws.doit()
    assert f"moved .ksbuild/src/clusteradm from {commits['v1.0.0'][:12]} to {commits['v1.1.0'][:12]}" in result.stderr
    assert git(checkout, "rev-parse", "HEAD") == commits["v1.1.0"]
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.1.0\n"

    # a hand change that moving would lose: refused, with where and what to do
    git(checkout, "checkout", "-q", "--detach", commits["v1.0.0"])
    (checkout / "message.txt").write_text("my own change\n")
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert (f"workspace.yaml:2: component 'clusteradm': the checkout .ksbuild/src/clusteradm is at "
            f"{commits['v1.0.0'][:12]}, but workspace.lock says {commits['v1.1.0'][:12]}, and it has changes of "
            f"its own: message.txt") in result.stderr
    assert "git -C .ksbuild/src/clusteradm stash" in result.stderr and "remove .ksbuild/src/clusteradm" in result.stderr
    assert (checkout / "message.txt").read_text() == "my own change\n"
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.1.0\n", "nothing was rebuilt"


def test_a_new_sha_after_new_upstream_commits(upstream, tmp_path):
    """The mirror and the checkout lack the commit: fetched from the URL, nothing deleted by hand."""
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    ws.doit()
    (repo / "message.txt").write_text("hello from main\n")
    on_main = commit_all(repo, "on main")
    pin(ws, repo.as_uri(), on_main)
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM MAIN\n"
    assert lock(ws)["clusteradm"] == {"git": repo.as_uri(), "rev": on_main, "commit": on_main}

    # a commit on no branch or tag (a pull request's, say): fetched by its SHA
    git(repo, "checkout", "-q", "--detach")
    (repo / "message.txt").write_text("hello from nowhere\n")
    nowhere = commit_all(repo, "on no branch")
    git(repo, "checkout", "-q", "-")
    pin(ws, repo.as_uri(), nowhere)
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM NOWHERE\n"
    assert tool_version(ws) == f"1.1.1-dev.2.g{nowhere[:12]}"

    # an untracked file of its own that the new commit tracks is not overwritten
    (repo / "notes.txt").write_text("upstream notes\n")
    notes = commit_all(repo, "notes")
    ws.write(".ksbuild/src/clusteradm/notes.txt", "my notes\n")
    pin(ws, repo.as_uri(), notes)
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert (f"workspace.yaml:2: component 'clusteradm': cannot move the checkout .ksbuild/src/clusteradm to "
            f"{notes[:12]}: error: The following untracked working tree files would be overwritten by checkout: "
            "notes.txt") in result.stderr
    assert ws.read(".ksbuild/src/clusteradm/notes.txt") == "my notes\n"


def test_switching_the_workspace_back_to_an_older_lock(derived_upstream, tmp_path):
    """The checkout follows workspace.lock; the derived file the build rewrote in it is not a change of its own."""
    repo, commits = derived_upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.0.0")
    git(ws.root, "init", "-q")
    ws.doit()
    older = commit_all(ws.root, "at v1.0.0")
    pin(ws, repo.as_uri(), "v1.1.0")
    ws.doit()
    commit_all(ws.root, "at v1.1.0")
    assert git(ws.root, "status", "--porcelain") == "", "ksbuild's state and checkouts are ignored"
    checkout = ws.root / ".ksbuild/src/clusteradm"
    assert git(checkout, "status", "--porcelain") == "M upper.txt"
    assert ws.read(".ksbuild/src/clusteradm/upper.txt") == "HELLO FROM V1.1.0\n"

    git(ws.root, "checkout", "-q", older)  # the branch before the bump
    result = ws.doit()
    assert f"to {commits['v1.0.0'][:12]}" in result.stderr
    assert git(checkout, "rev-parse", "HEAD") == commits["v1.0.0"]
    assert ws.read(".ksbuild/src/clusteradm/upper.txt") == "HELLO FROM V1.0.0\n"
    assert lock(ws)["clusteradm"]["commit"] == commits["v1.0.0"]
    assert git(ws.root, "status", "--porcelain") == ""


def test_derived_files_in_a_fetched_checkout_do_not_make_it_dirty(derived_upstream, tmp_path):
    repo, commits = derived_upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    ws.doit()
    assert git(ws.root / ".ksbuild/src/clusteradm", "status", "--porcelain") == "M upper.txt"
    assert tool_version(ws) == "1.1.0"
    recorded = json.loads(ws.read(".ksbuild/versions/clusteradm.json"))
    assert (recorded["version"], recorded["dirty"], recorded["commit"]) == ("1.1.0", False, commits["v1.1.0"])
    (ws.root / ".ksbuild/versions.json").unlink()  # computed again, not only fingerprinted
    assert tool_version(ws) == "1.1.0"

    # a change of its own is one
    ws.write(".ksbuild/src/clusteradm/message.txt", "changed by hand\n")
    ws.doit()
    assert tool_version(ws) == f"1.1.1-dev.0.g{commits['v1.1.0'][:12]}.dirty"
    assert json.loads(ws.read(".ksbuild/versions/clusteradm.json"))["dirty"] is True


def test_verify_names_the_upstream_commit_holding_stale_derived_files(derived_upstream, tmp_path):
    repo, commits = derived_upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    git(ws.root, "init", "-q")
    ws.doit()
    commit_all(ws.root, "workspace")
    result = ws.doit("verify", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    stale = lines.index("STALE        .ksbuild/src/clusteradm/upper.txt  (clusteradm:upper)")
    assert lines[stale + 1] == (f"             fix: the upstream commit {commits['v1.1.0'][:12]} of {repo.as_uri()} "
                                "holds stale derived files: report it upstream, or pin a newer rev in workspace.yaml")
    assert not any("then commit" in line for line in lines)


def test_an_overlay_build_file_for_a_repository_without_one(upstream, tmp_path):
    repo, commits = upstream
    git(repo, "rm", "-q", "BUILD.yaml")
    git(repo, "commit", "-qm", "no build file")
    git(repo, "tag", "v2.0.0")
    ws = workspace(tmp_path, repo.as_uri(), "v2.0.0")
    result = ws.doit(check=False)
    assert "has no BUILD.yaml" in result.stderr and "components/clusteradm/BUILD.yaml" in result.stderr
    ws.write("components/clusteradm/BUILD.yaml", UPSTREAM_BUILD.replace("tr a-z A-Z", "tr a-z A-Z | rev"))
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "0.1.1v morf olleh\n"  # the overlay's command


def test_unknown_tag_is_one_clear_error(upstream, tmp_path):
    repo, _ = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v9.9.9")
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert f"component 'clusteradm': {repo.as_uri()} has no tag 'v9.9.9'" in result.stderr
