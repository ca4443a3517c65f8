"""A target's outputs between its actions and its commit.

A target's actions run one after another, a later one often reading what an earlier one made (a
CRD kustomization over the CRDs just generated). Their outputs wait here, in the execution roots
they were made in, and reach the workspace together once every action has succeeded: a failure
in the last action leaves the workspace exactly as it was.
"""
from __future__ import annotations

import os

from ksbuild.cache.digests import sha256_file
from ksbuild.exec.commit import commit_dir, commit_files, write_dir_manifest
from ksbuild.exec.sandbox import remove_tree
from ksbuild.model import ActionSpec


class Pending:
    def __init__(self, root: str):
        self.root = root
        self.files: dict[str, str] = {}  # workspace path -> absolute path of its new content
        self.dirs: dict[str, str] = {}  # owned workspace directory -> absolute directory of its new content
        self.steps: list[tuple[str, ActionSpec]] = []  # (execution root, action), in order
        self.scratch: list[str] = []  # directories to remove when the target is done
        self.digests: dict[str, str] = {}  # workspace path -> SHA-256 of its new content, where known

    def source(self, workspace_path: str) -> str:
        """Where an input's current content is: an earlier action's output, or the workspace."""
        pending = self.files.get(workspace_path)
        if pending:
            return pending
        directory = self._pending_dir(workspace_path)
        if directory:
            made = os.path.join(self.dirs[directory], workspace_path[len(directory) + 1:])
            if os.path.isfile(made):
                return made
        return os.path.join(self.root, workspace_path)  # a hand-written file beside generated ones stays there

    def source_dir(self, workspace_dir: str) -> str:
        return self.dirs.get(workspace_dir) or os.path.join(self.root, workspace_dir)

    def digest(self, workspace_path: str, stat_cache) -> str:
        """An input's SHA-256: pending content is hashed as it is, workspace files through the stat cache."""
        source = self.source(workspace_path)
        if source == os.path.join(self.root, workspace_path):
            return stat_cache.digest(workspace_path)
        return sha256_file(source)

    def add(self, exec_root: str, action: ActionSpec, scratch: str, digests: dict[str, str] | None = None) -> None:
        """Outputs of `action`, laid out under `exec_root`, wait for the commit; `digests`: the
        SHA-256 of some of them, taken already."""
        self.scratch.append(scratch)
        replaced = {workspace for _, workspace in action.outputs}  # an earlier action's digests of them are stale
        below = tuple(workspace + "/" for _, workspace in action.output_dirs)
        self.digests = {path: digest for path, digest in self.digests.items()
                        if path not in replaced and not path.startswith(below)}
        self.digests.update(digests or {})
        self.steps.append((exec_root, action))
        for exec_path, workspace_path in action.outputs:
            self.files[workspace_path] = os.path.join(exec_root, exec_path)
        for exec_dir, workspace_dir in action.output_dirs:
            self.dirs[workspace_dir] = os.path.join(exec_root, exec_dir)

    def commit(self) -> dict[str, list[str]]:
        """Every action's outputs into the workspace; returns, per owned directory, what it produced."""
        produced: dict[str, list[str]] = {}
        for exec_root, action in self.steps:
            commit_files(self.root, exec_root, action.outputs)
            for exec_dir, workspace_dir in action.output_dirs:
                source = os.path.join(exec_root, exec_dir)
                os.makedirs(source, exist_ok=True)  # a restored empty directory
                files = commit_dir(self.root, source, workspace_dir, action.dir_marker)
                write_dir_manifest(self.root, workspace_dir, files)
                produced[workspace_dir] = files
        return produced

    def close(self) -> None:
        for directory in self.scratch:
            remove_tree(directory)
        self.scratch = []

    def _pending_dir(self, workspace_path: str) -> str | None:
        for directory in self.dirs:
            if workspace_path.startswith(directory + "/"):
                return directory
        return None
