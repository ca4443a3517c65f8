from tests.integration.test_git_components import upstream, workspace, commit_all, git
def test_probe(upstream, tmp_path):
    repo, commits = upstream
    ws = workspace(tmp_path, repo.as_uri(), "v1.1.0")
    ws.doit()
    (repo / "notes.txt").write_text("upstream notes\n")
    new = commit_all(repo, "notes")
    (ws.root / ".ksbuild/src/clusteradm/notes.txt").write_text("my notes\n")
    ws.write("workspace.yaml", f"components:\n  clusteradm:\n    git: {repo.as_uri()}\n    rev: {new}\n", dedent=False)
    r = ws.doit(check=False)
    print(r.stderr)
    ws.write("workspace.yaml", f"components:\n  clusteradm:\n    git: {repo.as_uri()}\n    rev: {'1'*40}\n", dedent=False)
    r = ws.doit(check=False)
    print(r.stderr)
