"""The repository init reads: its committed files (git's index when it is a git work tree, else the
files on disk), read as text or YAML, bounded and never trusted."""
from __future__ import annotations

import os
import posixpath
import subprocess

import yaml

from ksbuild.loader.yamlguard import shape_fault

MAX_BYTES = 4 << 20  # a file larger than this is not a source init learns from
# Directories that hold no source of this repository's derived files.
SKIPPED_DIRS = frozenset({"vendor", "node_modules", "testdata", "third_party", "bin"})
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Repo:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        listed = _git_files(self.root)
        self.in_git = listed is not None
        found = listed if listed is not None else _disk_files(self.root)
        self.files = sorted(p for p in found if _kept(p) and os.path.isfile(os.path.join(self.root, p)))
        self._set = set(self.files)
        self._texts: dict[str, str | None] = {}  # init reads most files more than once

    def has(self, path: str) -> bool:
        """`path` is a committed file (or, outside git, a file on disk)."""
        return posixpath.normpath(path) in self._set

    def on_disk(self, path: str) -> bool:
        return os.path.isfile(os.path.join(self.root, path))

    def under(self, directory: str) -> list[str]:
        prefix = posixpath.normpath(directory).rstrip("/") + "/"
        return [p for p in self.files if p.startswith(prefix)] if prefix != "./" else list(self.files)

    def named(self, name: str) -> list[str]:
        return [p for p in self.files if posixpath.basename(p) == name]

    def text(self, path: str) -> str | None:
        """The file's text, read from disk (an uncommitted Makefile still says what it pins); None when it
        is missing, too large or not UTF-8."""
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def _read(self, path: str) -> str | None:
        full = os.path.join(self.root, path)
        if os.path.commonpath([os.path.realpath(full), os.path.realpath(self.root)]) != os.path.realpath(self.root):
            return None  # a symbolic link out of the repository: not its source
        try:
            if os.path.getsize(full) > MAX_BYTES:
                return None
            with open(full, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def yaml_docs(self, path: str) -> list | None:
        """The file's YAML documents (empty ones dropped); None when it is not plain YAML (a Helm
        template with `{{- if }}` lines, say) or is hostile."""
        text = self.text(path)
        if text is None or shape_fault(text) is not None:
            return None
        try:
            return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc is not None]
        except (yaml.YAMLError, RecursionError, TypeError, ValueError):
            return None


def dig(value, *keys):
    """value[k1][k2]... through mappings, or None where one is missing or not a mapping (YAML from a
    repository can hold anything anywhere)."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def name_of(doc) -> str:
    name = dig(doc, "metadata", "name")
    return name if isinstance(name, str) else ""


def _kept(path: str) -> bool:
    parts = path.split("/")
    return not any(part.startswith(".") or part in SKIPPED_DIRS for part in parts[:-1]) \
        and not parts[-1].startswith(".")


def _git_files(root: str) -> list[str] | None:
    """Tracked files, relative to `root`; None when `root` is not in a git work tree (or git is missing)."""
    try:
        result = subprocess.run(["git", "-c", "core.quotepath=off", "ls-files", "-z", "--", "."], cwd=root,
                                capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return [name.decode("utf-8", "replace") for name in result.stdout.split(b"\0") if name]


def _disk_files(root: str) -> list[str]:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        relative = os.path.relpath(directory, root)
        found += [f if relative == "." else f"{relative}/{f}".replace(os.sep, "/") for f in files]
    return found
