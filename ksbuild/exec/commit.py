"""Moving outputs from a sandbox into the workspace: each file staged beside its destination and
renamed into place, so a reader never sees half a file. Unchanged files are left alone,
timestamps included, so what depends on them does not rebuild."""
from __future__ import annotations

import filecmp
import hashlib
import os
import re
import shutil
import stat
import tempfile
from functools import lru_cache

from ksbuild.exec.sandbox import copy_file, files_under
from ksbuild.files import write_if_changed
from ksbuild.model import dir_manifest


class OutsideWorkspace(OSError):
    """An output's directory is a symbolic link leading out of the workspace: nothing is written."""


def commit_files(root: str, exec_root: str, pairs) -> None:
    """`pairs`: (path in the sandbox, path in the workspace)."""
    staged: list[tuple[str, str]] = []
    try:
        for exec_path, workspace_path in pairs:
            source, destination = os.path.join(exec_root, exec_path), os.path.join(root, workspace_path)
            if _same(source, destination, root):
                continue
            directory = os.path.dirname(destination)
            _check_inside(root, directory)  # before a directory is made: never one outside the workspace
            prefix = f".{os.path.basename(destination)}.ksbuild-"
            try:
                handle, temporary = tempfile.mkstemp(prefix=prefix, dir=directory)
            except FileNotFoundError:
                os.makedirs(directory, exist_ok=True)
                handle, temporary = tempfile.mkstemp(prefix=prefix, dir=directory)
            staged.append((temporary, destination))
            try:
                copy_file(source, temporary, into=handle)
            finally:
                os.close(handle)
        for temporary, destination in staged:
            os.replace(temporary, destination)
        staged = []
    finally:
        for temporary, _ in staged:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass


def commit_dir(root: str, source_dir: str, workspace_dir: str, marker: str = "") -> list[str]:
    """Make the workspace directory hold what the sandbox directory holds, and keep every file there
    that the generator did not make: changed files are renamed in; a file is removed only when the
    generator produced it before (the directory's manifest says so) or it carries the generator's
    `marker` (a stale file in a fresh checkout), and this run did not produce it. A hand-written file
    in the directory (a kustomization beside the CRDs) is a source, and stays. Returns the files
    produced, relative to the directory."""
    produced = sorted(files_under(source_dir))
    previous = set(manifest_files(root, workspace_dir))
    commit_files(root, source_dir, [(name, f"{workspace_dir}/{name}") for name in produced])
    target = os.path.join(root, workspace_dir)
    os.makedirs(target, exist_ok=True)
    pattern = re.compile(marker.encode(), re.MULTILINE) if marker else None
    for stale in sorted(files_under(target) - set(produced)):
        path = os.path.join(target, stale)
        if stale in previous or (pattern is not None and carries_marker(path, pattern)):
            os.unlink(path)
    for current, dirs, files in os.walk(target, topdown=False):
        if current != target and not os.listdir(current):
            os.rmdir(current)
    return produced


MARKER_BYTES = 4096  # generators write their marker at the top of a file


def carries_marker(path: str, pattern: re.Pattern) -> bool:
    try:
        with open(path, "rb") as handle:
            return pattern.search(handle.read(MARKER_BYTES)) is not None
    except OSError:
        return False


def manifest_files(root: str, workspace_dir: str) -> list[str]:
    """The files an owned directory's last commit produced (its manifest), [] when unknown."""
    try:
        with open(os.path.join(root, dir_manifest(workspace_dir)), encoding="utf-8") as handle:
            return [line.rstrip("\n").split("  ", 1)[1] for line in handle if "  " in line]
    except (OSError, UnicodeDecodeError):
        return []


def write_dir_manifest(root: str, workspace_dir: str, files: list[str]) -> None:
    """List the committed directory's files with their SHA-256, for the targets that read it;
    left alone when nothing changed, so they stay up to date."""
    lines = []
    for name in files:
        with open(os.path.join(root, workspace_dir, name), "rb") as handle:
            lines.append(f"{hashlib.file_digest(handle, 'sha256').hexdigest()}  {name}\n")
    write_if_changed(os.path.join(root, dir_manifest(workspace_dir)), "".join(lines).encode())


def _check_inside(root: str, directory: str) -> None:
    """Never write through a link that leaves the workspace (a committed `gen -> /elsewhere`)."""
    real_root, real_dir = _real_root(root), _real_directory(directory)
    if real_dir != real_root and not real_dir.startswith(real_root + os.sep):
        raise OutsideWorkspace(f"{os.path.relpath(directory, root)}/ leads to {real_dir}, outside the workspace, "
                               "through a symbolic link")


@lru_cache(maxsize=8)
def _real_root(root: str) -> str:
    """The workspace's own path, resolved once per process (a symbolic link above it is the user's)."""
    return os.path.realpath(root)


@lru_cache(maxsize=4096)
def _real_directory(directory: str) -> str:
    """Where a directory of outputs really is, resolved once per process: its links are the
    checkout's (git's), and no action can make one in the workspace."""
    return os.path.realpath(directory)


def _same(source: str, destination: str, root: str) -> bool:
    """Whether `destination` already holds what `source` does (then it is left alone); a link there is
    refused, never written through."""
    try:
        there = os.lstat(destination)
    except OSError:
        return False
    if stat.S_ISLNK(there.st_mode):
        raise OutsideWorkspace(f"{os.path.relpath(destination, root)} is a symbolic link; ksbuild does not write "
                               "through it")
    if not stat.S_ISREG(there.st_mode) or (os.stat(source).st_mode & 0o777) != (there.st_mode & 0o777):
        return False
    return filecmp.cmp(source, destination, shallow=False)
