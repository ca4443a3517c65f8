"""Components fetched from local git repositories: at a tag and at a SHA, locked in workspace.lock,
with an overlay BUILD.yaml, a version from their own tags, and a refusal when the lock and the
checkout disagree."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import DODO, Workspace, git

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


def workspace(tmp_path: Path, url: str, rev: str) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir(exist_ok=True)
    ws.write("dodo.py", DODO)
    ws.write("workspace.yaml", f"components:\n  clusteradm:\n    git: {url}\n    rev: {rev}\n", dedent=False)
    ws.env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # the git mirrors
    return ws


def lock(ws: Workspace) -> dict:
    return yaml.safe_load(ws.read("workspace.lock"))["components"]


def test_a_tag_then_a_sha_locked_and_versioned(upstream, tmp_path):
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.0.0")
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.0.0\n"
    assert lock(ws) == {"clusteradm": {"git": repo.as_uri(), "rev": "v1.0.0", "commit": commits["v1.0.0"]}}
    assert "//clusteradm:tool  image  1.0.0" in ws.doit("versions").stdout

    # the tag moves upstream: the lock keeps the build where it was
    git(repo, "tag", "-f", "v1.0.0", commits["v1.1.0"])
    ws.doit()
    assert ws.executed() == set()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.0.0\n"

    ws.write("workspace.yaml", f"components:\n  clusteradm:\n    git: {repo.as_uri()}\n    rev: {commits['v1.1.0']}\n",
             dedent=False)
    ws.doit()
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.1.0\n"
    assert lock(ws)["clusteradm"]["commit"] == commits["v1.1.0"]
    assert "//clusteradm:tool  image  1.1.0" in ws.doit("versions").stdout


def test_the_lock_and_the_checkout_must_agree(upstream, tmp_path):
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    ws.doit()
    git(ws.root / ".ksbuild/src/clusteradm", "checkout", "-q", "--detach", commits["v1.0.0"])
    result = ws.doit(check=False)
    assert result.returncode == 3
    assert (f"workspace.yaml:2: component 'clusteradm': the checkout .ksbuild/src/clusteradm is at {commits['v1.0.0'][:12]}, "
            f"but workspace.lock says {commits['v1.1.0'][:12]}") in result.stderr
    assert ws.read(".ksbuild/src/clusteradm/out/shout.txt") == "HELLO FROM V1.1.0\n", "nothing was rebuilt"


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
    assert result.returncode == 3
    assert f"component 'clusteradm': {repo.as_uri()} has no tag 'v9.9.9'" in result.stderr
