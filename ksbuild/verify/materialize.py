"""Copies of the workspace to check, made outside the working tree and without changing it, its
index or any timestamp (git commands run with GIT_OPTIONAL_LOCKS=0, so `status` does not refresh
the index)."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass


class NotARepository(Exception):
    pass


class NoCommits(NotARepository):
    """A repository whose HEAD names no commit yet (`git init`, nothing committed)."""


@dataclass(frozen=True)
class Checkout:
    root: str  # the copy's workspace root
    revision: str  # what it holds: a commit id, or "working tree"
    uncommitted: tuple[str, ...]  # workspace-relative paths with uncommitted changes in the real tree
    sparse: bool = False  # only what the checks read: the working tree's plan is the commit's (verify.sparse)
    written: int = 0  # files of the commit written out


def open_repo(workspace_root: str):
    import git

    try:
        repo = git.Repo(workspace_root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotARepository(f"{workspace_root} is not inside a git repository") from None
    repo.git.update_environment(GIT_OPTIONAL_LOCKS="0")
    return repo


def _require_commit(repo) -> None:
    """Verify compares with HEAD and reads its history: a repository without a commit has neither."""
    if not repo.head.is_valid():
        raise NoCommits(f"{repo.working_tree_dir} is a git repository with no commits yet")


def uncommitted(repo, workspace_root: str) -> tuple[str, ...]:
    """Workspace-relative paths that differ from HEAD: modified, added, deleted or untracked."""
    prefix = os.path.relpath(workspace_root, repo.working_tree_dir).replace(os.sep, "/")
    found = []
    for line in repo.git.status("--porcelain", "-z", "--untracked-files=all", "--", ".").split("\0"):
        if len(line) > 3:
            path = line[3:]
            found.append(path if prefix == "." else path[len(prefix) + 1:] if path.startswith(prefix + "/") else path)
    return tuple(sorted(p for p in found if not p.startswith(".ksbuild/")))


def committed(workspace_root: str, scratch: str, revision: str = "HEAD", only=None) -> Checkout:
    """The committed tree of `revision`, written under `scratch`; with `only(repo, changed)`, just the
    workspace-relative paths it returns (when it returns None: all of them)."""
    repo = open_repo(workspace_root)
    _require_commit(repo)
    commit = repo.commit(revision)
    changed = uncommitted(repo, workspace_root)
    wanted = only(repo, changed) if only else None
    prefix = os.path.relpath(workspace_root, repo.working_tree_dir).replace(os.sep, "/")
    if wanted is not None and prefix != ".":
        wanted = {f"{prefix}/{path}" for path in wanted}
    written = 0
    for blob in commit.tree.traverse():
        if blob.type != "blob" or (wanted is not None and blob.path not in wanted):
            continue
        written += 1
        destination = os.path.join(scratch, blob.path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        if blob.mode == 0o120000:
            os.symlink(blob.data_stream.read().decode(), destination)
            continue
        with open(destination, "wb") as handle:
            blob.stream_data(handle)
        os.chmod(destination, 0o755 if blob.mode & 0o111 else 0o644)
    return Checkout(_inside(repo, workspace_root, scratch), commit.hexsha, changed, wanted is not None, written)


def working_tree(workspace_root: str, scratch: str) -> Checkout:
    """The working tree as it is: tracked and untracked files, not ignored ones."""
    repo = open_repo(workspace_root)
    _require_commit(repo)
    listing = repo.git.ls_files("-z", "--cached", "--others", "--exclude-standard").split("\0")
    top = repo.working_tree_dir
    for path in filter(None, listing):
        source = os.path.join(top, path)
        if not os.path.lexists(source):
            continue  # deleted in the working tree
        destination = os.path.join(scratch, path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    return Checkout(_inside(repo, workspace_root, scratch), "working tree", uncommitted(repo, workspace_root))


def _inside(repo, workspace_root: str, scratch: str) -> str:
    return os.path.normpath(os.path.join(scratch, os.path.relpath(workspace_root, repo.working_tree_dir)))
