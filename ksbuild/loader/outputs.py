"""Claiming declared outputs: each has one producer, stays inside its component (or goes to
.ksbuild/out/ as a build product), never replaces a file the build is defined by, ksbuild's or git's
state, never clashes with another output as file against directory, and is never written through a
symbolic link that leaves the workspace; and, once claimed, who produces a path. A mixin of the
planner (loader.graph), whose `owner`, `below`, `outputs`, `problems`, `root`, `build_files`,
`has_owned_dirs`, `_handwritten` and `_manifests` it uses."""
from __future__ import annotations

import os
import posixpath
import re
import stat

from ksbuild.loader.lockfile import LOCK_FILE
from ksbuild.loader.globs import GLOB_CHARS
from ksbuild.loader.workspace import BUILD_FILE, WORKSPACE_FILE
from ksbuild.model import OUT_PREFIX, Target, out_dir
from ksbuild.rules import RULES
from ksbuild.state import STATE_DIR


class OutputClaims:
    def _claim(self, target: Target, declared) -> None:
        paths, claimed = [], []
        for relative, attr in declared:
            line = target.line_of(attr)
            path = self._inside_component(target, relative, line, attr)
            if path is None or not self._may_write(target, path, relative, line, attr):
                continue
            previous = self.owner.get(path)
            if previous and previous[0].label != target.label:
                other, other_attr = previous
                self.problems.add(target.file, line,
                                  f"{target.label}: output {path!r} is already produced by {other.label} "
                                  f"({other.file}:{other.line_of(other_attr)})",
                                  "An output has exactly one producer; remove it from one of the targets.")
                continue
            if not previous and self._shape_clash(target, path, line):
                continue
            self._own(target, path, attr)
            paths.append(path)
            claimed.append((path, attr))
        self.outputs[target.label] = tuple(dict.fromkeys(paths))
        self.claims[target.label.task] = tuple(claimed)

    def _restore_claims(self, target: Target, claimed) -> None:
        """Claims checked when the target was last planned, kept with its plan (loader.replan)."""
        paths = []
        for path, attr in claimed:
            self._own(target, path, attr)
            paths.append(path)
        self.outputs[target.label] = tuple(dict.fromkeys(paths))
        self.claims[target.label.task] = tuple(claimed)

    def _own(self, target: Target, path: str, attr: str) -> None:
        self.owner[path] = (target, attr)
        directory = path.rstrip("/") if path.endswith("/") else posixpath.dirname(path)
        while directory and directory not in self.below:
            self.below[directory] = (target, attr)
            directory = posixpath.dirname(directory)

    def _may_write(self, target: Target, path: str, relative: str, line: int, attr: str) -> bool:
        """An output never replaces a source of the build itself (workspace.yaml, workspace.lock, dodo.py,
        any BUILD.yaml), ksbuild's state or git's, nor is written through a symbolic link that leads out
        of the workspace, nor is a file where a directory is, or below a file."""
        name = path.rstrip("/")
        inside = name[len(target.component_dir) + 1:] if target.component_dir not in ("", ".") else name
        what = ""
        if name.rpartition("/")[2] == BUILD_FILE or name in (WORKSPACE_FILE, LOCK_FILE, "dodo.py") \
                or name in self.build_files:
            what = f"{name.rpartition('/')[2]}, a file the build is defined by"
        elif "/.git/" in f"/{name}/":
            what = "git's own files"
        elif GLOB_CHARS.search(relative):
            self.problems.add(target.file, line, f"{target.label}: {attr} path {relative!r} holds '*', '?' or '['",
                              "An output is a path, not a glob: name each file.")
            return False
        elif not relative.startswith(OUT_PREFIX) and (f"{inside}/".startswith(STATE_DIR + "/") or (
                f"{name}/".startswith(STATE_DIR + "/") and not target.component_dir.startswith(STATE_DIR + "/"))):
            what = "ksbuild's state (.ksbuild/)"
        if what:
            self.problems.add(target.file, line, f"{target.label}: {attr} path {relative!r} would overwrite {what}",
                              "Outputs never replace sources or state: write the result to another file.")
            return False
        try:
            mode = os.lstat(os.path.join(self.root, name)).st_mode
        except OSError:
            mode = 0
        real = self.escapes(name, link=stat.S_ISLNK(mode))
        if real:
            self.problems.add(target.file, line, f"{target.label}: {attr} path {relative!r} goes through a "
                              f"symbolic link leading out of the workspace (to {real})",
                              "Outputs are written inside the workspace: remove the link, or write elsewhere.")
            return False
        if not path.endswith("/") and stat.S_ISDIR(mode):
            self.problems.add(target.file, line, f"{target.label}: {attr} path {relative!r} is a directory",
                              "Name a file, or end the path with '/' if the rule takes a directory.")
            return False
        blocking = self._file_above(posixpath.dirname(name))
        if blocking:
            self.problems.add(target.file, line, f"{target.label}: {attr} path {relative!r} is below {blocking!r}, "
                              "which is a file", "Name a path whose directories are directories.")
            return False
        return True

    def _file_above(self, directory: str) -> str:
        """The nearest existing one of `directory` and its ancestors, when it is not a directory ('')."""
        if not directory:
            return ""
        if directory not in self._above:
            full = os.path.join(self.root, directory)
            if os.path.isdir(full):
                self._above[directory] = ""
            elif os.path.lexists(full):
                self._above[directory] = directory
            else:
                self._above[directory] = self._file_above(posixpath.dirname(directory))
        return self._above[directory]

    def _shape_clash(self, target: Target, path: str, line: int) -> bool:
        """Report a path declared as a file by one output and as a directory by another (`a/b` and
        `a/b/`, or `a/b` and `a/b/c`): the build could never produce both."""
        name = path.rstrip("/")
        if path.endswith("/"):
            clash = self.owner.get(name)  # a file of that name
        else:
            clash = self.owner.get(name + "/") or self.below.get(name)  # a directory, or paths below it
        if clash is None:
            directory = posixpath.dirname(name)
            while directory and clash is None:
                clash = self.owner.get(directory)
                directory = posixpath.dirname(directory)
        if clash is None:
            return False
        other, other_attr = clash
        self.problems.add(target.file, line, f"{target.label}: output {path!r} needs a file and a directory at one "
                          f"path, with an output of {other.label} ({other.file}:{other.line_of(other_attr)})",
                          "A path is a file or a directory, never both: rename one of the outputs.")
        return True

    def escapes(self, path: str, link: bool | None = None) -> str:
        """Where a workspace path really is, when a symbolic link on its way (or itself) leads out of the
        workspace; '' when it stays inside (whether it exists or not). `link`: whether the path itself
        is a symbolic link, when the caller knows."""
        full = os.path.join(self.root, path)
        directory, base = os.path.split(full)
        real_dir = self._real_dirs.get(directory)
        if real_dir is None:
            real_dir = self._real_dirs[directory] = os.path.realpath(directory)
        if link is None:
            link = os.path.islink(full)
        real = os.path.realpath(full) if link else f"{real_dir}/{base}"
        if real.startswith(self.real_root_slash) or real == self.real_root:
            return ""
        return real

    def _inside_component(self, target: Target, relative: str, line: int, attr: str) -> str | None:
        """The workspace path of a declared output; a directory keeps its trailing '/'. A rule's
        build products that are not committed (`$out/...`) go to .ksbuild/out/COMPONENT/."""
        if relative.startswith(OUT_PREFIX):
            return out_dir(target.label.component, relative[len(OUT_PREFIX):])
        normal = posixpath.normpath(relative)
        if posixpath.isabs(relative) or normal == ".." or normal.startswith("../") or normal == ".":
            self.problems.add(target.file, line,
                              f"{target.label}: {attr} path {relative!r} is absolute or leaves the component",
                              "Outputs are written inside the component: give a relative path without '..'.")
            return None
        return target.path(normal) + ("/" if relative.endswith("/") else "")

    # who produces a path ---------------------------------------------------------------------
    def _split_owned_dirs(self, target: Target, paths: list[str]) -> tuple[list[str], list[str]]:
        """Files, and directories other targets own: a file inside one stands for the whole
        directory, whose content is only known once its owner has run."""
        files, dirs = [], []
        for path in paths:
            directory = path.rstrip("/") if path.endswith("/") else self._owned_dir(path)
            if directory is None or (not path.endswith("/") and self.handwritten(path)):
                files.append(path)
            elif directory not in dirs:
                dirs.append(directory)
        return files, dirs

    def _owned_dir(self, path: str) -> str | None:
        """The directory some target owns that holds `path`, if any."""
        if not self.has_owned_dirs:
            return None
        directory = posixpath.dirname(path)
        while directory:
            if directory + "/" in self.owner:
                return directory
            directory = posixpath.dirname(directory)
        return None

    def producer(self, path: str) -> Target | None:
        """The target that writes `path`: as a declared file, or inside a directory it owns (unless
        the file is a hand-written source there)."""
        owner = self.owner.get(path)
        if owner:
            return owner[0]
        directory = self._owned_dir(path)
        if directory is None or self.handwritten(path):
            return None
        return self.owner[directory + "/"][0]

    def will_exist(self, path: str) -> bool:
        """Some target will produce `path`: a file, or (ending in '/') a directory it owns or writes into."""
        if path.endswith("/"):
            return any(p.startswith(path) for p in self.owner)
        return self.producer(path) is not None

    def _made_by(self, target: Target, path: str) -> bool:
        """`path` is a file `target` generates into a directory it owns: not an input of its own."""
        directory = None if path.endswith("/") else self._owned_dir(path)
        return directory is not None and self.owner[directory + "/"][0].label == target.label \
            and not self.handwritten(path)

    def handwritten(self, path: str) -> bool:
        """A file in an owned directory that its generator did not make: it is on disk, the directory's
        manifest does not list it, and it lacks the generator's marker. It is a source like any other
        (a kustomization beside the CRDs), and the generator's commits leave it alone."""
        if path not in self._handwritten:
            directory = self._owned_dir(path)
            found = False
            if directory is not None and os.path.isfile(os.path.join(self.root, path)):
                from ksbuild.exec.commit import carries_marker, manifest_files

                owner = self.owner[directory + "/"][0]
                marker = RULES[owner.rule].owned_marker
                if directory not in self._manifests:
                    self._manifests[directory] = set(manifest_files(self.root, directory))
                found = path[len(directory) + 1:] not in self._manifests[directory] and not (
                    marker and carries_marker(os.path.join(self.root, path), re.compile(marker.encode(), re.M)))
            self._handwritten[path] = found
        return self._handwritten[path]
