"""Was a stale generated file edited by hand? Yes when its last change touched none of its
inputs and no input changed since: the generator did not make that change."""
from __future__ import annotations

import os


class HandEdits:
    def __init__(self, repo, workspace_root: str, revision: str, uncommitted: tuple[str, ...], worktree: bool):
        self.repo = repo
        prefix = os.path.relpath(workspace_root, repo.working_tree_dir).replace(os.sep, "/")
        self.prefix = "" if prefix == "." else prefix + "/"
        self.revision = revision
        self.uncommitted = set(uncommitted)
        self.worktree = worktree

    def hand_edited(self, path: str, inputs) -> str:
        """Why `path` reads as edited by hand, or '' when it does not."""
        if self.worktree and path in self.uncommitted:
            if any(i in self.uncommitted for i in inputs):
                return ""
            return "hand-edited: it has uncommitted changes, and none of its inputs do"
        git = self.repo.git
        last = git.log("-1", "--format=%H", self.revision, "--", self.prefix + path)
        if not last:
            return ""
        changed = set(git.show("--name-only", "--format=", last).splitlines())
        tracked = [self.prefix + i for i in inputs if not i.startswith(".ksbuild/")]
        if changed & set(tracked):
            return ""
        if tracked and git.log("-1", "--format=%H", f"{last}..{self.revision}", "--", *tracked):
            return ""
        return f"hand-edited: commit {last[:12]} changed it without changing any of its inputs"
