"""Which files `kustomize build DIR` reads, found at load time from the kustomization files.

A kustomization names files and other kustomizations (`resources`, `bases`, `components`, patches,
generator files...); `kustomization_inputs` follows them all, so a rule can take every file as an
input instead of asking the user to list them, and a wrong or forgotten path is reported with the
kustomization's `file:line` before anything runs, not as kustomize's stack at run time.

Pure and plan-time: it lists directories and reads kustomization files (YAML, with the lines kept
by `ksbuild.loader.yamlfile`), nothing else. Bad input is never raised: each fault is a `Problem`
with where, what and what to do. Kustomizations are treated as untrusted: remote resources, paths
leaving the workspace (also through symbolic links), deep or cyclic nesting, huge or alias-bombed
YAML are refused, and the number of files is bounded.

What it does not follow: files named inside generator or transformer plugin configurations (a
`PatchTransformer`'s `path`, KRM functions); `helmCharts` is refused.
"""
from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass
from typing import Callable


from ksbuild.errors import ConfigError, Problem
from ksbuild.loader import yamlfile
from ksbuild.loader.yamlguard import shape_fault

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")  # kustomize's order
MAX_DEPTH = 50  # kustomizations nested deeper are refused
MAX_FILES = 10_000  # files read by one build, kustomizations included
MAX_BYTES = 1 << 20  # a kustomization file larger than this is refused

REFERENCE = "https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/"
_REMOTE_MARKERS = ("://", "git@", "git::", "?ref=", "?version=", "?timeout=", "?submodules=", ".git//")
_GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "dev.azure.com", "ssh.dev.azure.com")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?$")

# Fields whose value is a list of paths, and what each entry may be: "resource" (a file, or a
# directory holding a kustomization), "dir" (a directory holding a kustomization), "file", "patch"
# (a file or an inline patch), "plugin" (an inline configuration, a file or a kustomization).
_PATH_LISTS = (("resources", "resource"), ("bases", "resource"), ("components", "dir"), ("crds", "file"),
               ("configurations", "file"), ("patchesStrategicMerge", "patch"), ("generators", "plugin"),
               ("transformers", "plugin"), ("validators", "plugin"))
_PATH_ITEMS = ("patches", "patchesJson6902", "replacements")  # lists of mappings with an optional `path`
_GENERATORS = ("configMapGenerator", "secretGenerator")
_HELM = ("helmCharts", "helmChartInflationGenerator", "helmGlobals")


@dataclass(frozen=True)
class KustomizeScan:
    """What `kustomize build` of one directory reads; paths workspace-relative, '/'-separated."""

    files: tuple[str, ...]  # every file read, kustomization files included (sorted, unique); a file
    #                         another target produces is here whether or not it exists yet
    dirs: tuple[str, ...]  # directories named that are not on disk but another target will produce
    #                        (`will_exist(dir + "/")`): their content is read whole (sorted)
    problems: tuple[Problem, ...]  # sorted by file and line; empty when the kustomization is sound
    watched: tuple[str, ...]  # the kustomization files and the directories whose listing decides the
    #                           result (a plan cache re-scans when one of them changes), sorted


def kustomization_inputs(root: str, directory: str, will_exist: Callable[[str], bool] | None = None, *,
                         named_at: tuple[str, int] | None = None, max_depth: int = MAX_DEPTH,
                         max_files: int = MAX_FILES) -> KustomizeScan:
    """The files `kustomize build DIRECTORY` reads, found by following its kustomization.

    `root`: the workspace root; `directory`: the kustomization directory, workspace-relative.
    `will_exist(path)` is asked about a path that is not on disk: `path` for a file, `path + "/"`
    for a directory; True when another target will produce it (a declared output, a file inside an
    owned directory, an owned directory). Without it, every path must exist.
    `named_at`: the (file, line) that named `directory` (a BUILD.yaml field), for problems with
    the directory itself; by default the directory, line 0.
    """
    walk = _Walk(root, will_exist or (lambda path: False), max_depth, max_files)
    walk.top(directory, named_at or (directory, 0))
    return KustomizeScan(files=tuple(sorted(walk.files)), dirs=tuple(sorted(walk.dirs)),
                         problems=tuple(sorted(walk.problems, key=lambda p: (p.file, p.line))),
                         watched=tuple(sorted(walk.watched)))


class _Walk:
    def __init__(self, root: str, will_exist: Callable[[str], bool], max_depth: int, max_files: int):
        self.root = os.path.abspath(root)
        self.real_root = os.path.realpath(root)
        self.will_exist = will_exist
        self.max_depth, self.max_files = max_depth, max_files
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.watched: set[str] = set()
        self.problems: list[Problem] = []
        self.stack: list[str] = []  # the kustomization directories being followed
        self.done: set[str] = set()
        self.full = False  # max_files reached: stop

    def problem(self, at: tuple[str, int], message: str, hint: str) -> None:
        self.problems.append(Problem(at[0], at[1], message, hint))

    # the top directory ---------------------------------------------------------------------------
    def top(self, directory: str, at: tuple[str, int]) -> None:
        path = _inside(directory)
        what = f"kustomization directory {directory!r}"
        if path is None:
            self.problem(at, f"{what} is absolute or leaves the workspace",
                         "Name a directory relative to the component, without '..' leading out of the workspace.")
            return
        self.watched.add(posixpath.dirname(path) or ".")
        kind = self.kind(path, at, what)
        if kind == "dir":
            self.kustomization(path, at, 0)
        elif kind == "file":
            self.problem(at, f"{what} is a file", "Name the directory that holds kustomization.yaml.")
        elif kind is None:
            if self.will_exist(path + "/"):
                self.dirs.add(path)
            else:
                self.problem(at, f"{what} does not exist and no target produces it",
                             f"Create {path}/ with a kustomization.yaml, or fix the path.")

    # one kustomization ---------------------------------------------------------------------------
    def kustomization(self, directory: str, at: tuple[str, int], depth: int) -> None:
        if directory in self.stack:
            cycle = self.stack[self.stack.index(directory):] + [directory]
            self.problem(at, "kustomization cycle: " + " -> ".join(d + "/" for d in cycle),
                         "A kustomization cannot include itself, directly or through others: remove one of "
                         "these entries.")
            return
        if directory in self.done or self.full:
            return
        if depth > self.max_depth:
            self.problem(at, f"kustomizations are nested more than {self.max_depth} deep (at {directory}/)",
                         "Flatten the chain of bases.")
            return
        self.done.add(directory)
        self.watched.add(directory)
        try:
            names = set(os.listdir(os.path.join(self.root, directory)))
        except OSError as err:
            self.problem(at, f"cannot list {directory}/: {err.strerror}", "Fix the directory's permissions.")
            return
        found = [name for name in KUSTOMIZATION_FILES if name in names]
        if not found:
            self.problem(at, f"{directory}/ holds no kustomization (kustomization.yaml, kustomization.yml or "
                         "Kustomization)", "Add a kustomization.yaml there, or name the files themselves.")
            return
        file = _join(directory, found[0])
        if len(found) > 1:
            self.problem(at, f"{directory}/ holds more than one kustomization file: {', '.join(found)}",
                         "Keep one of them; kustomize refuses to choose.")
            return
        self.watched.add(file)
        if not self.add_file(file, at):
            return
        data = self.load(file)
        if data is None:
            return
        if not isinstance(data, dict):
            self.problem((file, getattr(data, "line", 1)), "a kustomization must be a mapping",
                         f"Write fields such as `resources:` at the top level ({REFERENCE}).")
            return
        self.stack.append(directory)
        try:
            self.fields(data, directory, file, depth)
        finally:
            self.stack.pop()

    def fields(self, data: dict, directory: str, file: str, depth: int) -> None:
        for field in _HELM:
            if field in data:
                self.problem((file, data.line_of(field)),
                             f"{field} is not supported: kustomize would fetch the chart and run helm outside "
                             "the sandbox",
                             "Render the chart with its own target (or vendor the rendered manifests) and list "
                             "the result under resources.")
        for field, mode in _PATH_LISTS:
            entries = self.list_of(data, field, file)
            for index, entry in enumerate(entries):
                self.entry(entry, directory, (file, entries.line_of(index)), field, mode, depth)
        for field in _PATH_ITEMS:
            items = self.list_of(data, field, file)
            for index, item in enumerate(items):
                where = f"{field}[{index}]"
                if not isinstance(item, dict):
                    self.problem((file, items.line_of(index)), f"{where} must be a mapping",
                                 f"Write `- path: FILE` or an inline patch ({REFERENCE}).")
                elif "path" in item:
                    self.entry(item["path"], directory, (file, item.line_of("path")), f"{where}.path", "file",
                               depth)
        openapi = data.get("openapi")
        if isinstance(openapi, dict) and "path" in openapi:
            self.entry(openapi["path"], directory, (file, openapi.line_of("path")), "openapi.path", "file", depth)
        elif openapi is not None and not isinstance(openapi, dict):
            self.problem((file, data.line_of("openapi")), "openapi must be a mapping", "Write `openapi: {path: FILE}`.")
        for field in _GENERATORS:
            generators = self.list_of(data, field, file)
            for index, generator in enumerate(generators):
                where = f"{field}[{index}]"
                if not isinstance(generator, dict):
                    self.problem((file, generators.line_of(index)), f"{where} must be a mapping",
                                 f"Write `- name: NAME` with `files`, `envs` or `literals` ({REFERENCE}).")
                    continue
                sources = self.list_of(generator, "files", file, where)
                for i, source in enumerate(sources):
                    if isinstance(source, str) and "=" in source:
                        key, _, source = source.partition("=")
                        if not key or not source:
                            self.problem((file, sources.line_of(i)), f"{where}.files: {sources[i]!r} is not "
                                         "KEY=PATH or PATH", "Write the key and the path, e.g. `config.json=cfg.json`.")
                            continue
                    self.entry(source, directory, (file, sources.line_of(i)), f"{where}.files", "file", depth)
                envs = self.list_of(generator, "envs", file, where)
                for i, env in enumerate(envs):
                    self.entry(env, directory, (file, envs.line_of(i)), f"{where}.envs", "file", depth)
                if "env" in generator:
                    self.entry(generator["env"], directory, (file, generator.line_of("env")), f"{where}.env",
                               "file", depth)

    def list_of(self, data: dict, field: str, file: str, where: str = ""):
        value = data.get(field)
        if value is None:
            return yamlfile.LinedList()
        if not isinstance(value, list):
            name = f"{where}.{field}" if where else field
            self.problem((file, data.line_of(field)), f"{name} must be a list", f"Write one entry per line, "
                         f"each starting with '- ' ({REFERENCE}).")
            return yamlfile.LinedList()
        return value

    # one path ------------------------------------------------------------------------------------
    def entry(self, entry, directory: str, at: tuple[str, int], field: str, mode: str, depth: int) -> None:
        if self.full:
            return
        if not isinstance(entry, str) or not entry.strip():
            self.problem(at, f"{field}: expected a path, not {entry!r}", "Write a path relative to the "
                         "kustomization's directory.")
            return
        if mode in ("patch", "plugin") and _inline(entry):
            return
        if _remote(entry, os.path.join(self.root, directory)):
            self.problem(at, f"{field}: {entry!r} is a remote resource: not hermetic",
                         "Vendor it into the repository and name the local copy.")
            return
        if entry.startswith("/"):
            self.problem(at, f"{field}: {entry!r} is an absolute path", "Name it relative to the "
                         "kustomization's directory.")
            return
        path = _inside(_join(directory, entry))
        if path is None:
            self.problem(at, f"{field}: {entry!r} leaves the workspace", "Keep every file kustomize reads "
                         "inside the workspace.")
            return
        self.watched.add(posixpath.dirname(path) or ".")
        kind = self.kind(path, at, f"{field}: {entry!r}")
        if kind == "refused":
            return
        if kind is None:
            if mode in ("resource", "dir", "plugin") and self.will_exist(path + "/"):
                self.dirs.add(path)
            elif mode != "dir" and self.will_exist(path):
                if self.within(path, directory, at, field, entry):
                    self.add_file(path, at)
            else:
                self.problem(at, f"{field}: {entry!r} does not exist ({path}) and no target produces it",
                             f"Create {path}, fix the path, or build it with a target.")
        elif kind == "dir":
            if mode in ("file", "patch"):
                self.problem(at, f"{field}: {entry!r} is a directory, not a file", "Name a file.")
            else:
                self.kustomization(path, at, depth + 1)
        elif mode == "dir":
            self.problem(at, f"{field}: {entry!r} is a file: a component is a directory holding a kustomization",
                         "Name the component's directory.")
        elif self.within(path, directory, at, field, entry):
            self.add_file(path, at)

    def within(self, path: str, directory: str, at: tuple[str, int], field: str, entry: str) -> bool:
        """kustomize reads files only in or below the kustomization's directory (its load restrictor)."""
        if directory == "." or path.startswith(directory + "/"):
            return True
        self.problem(at, f"{field}: {entry!r} is outside {directory}/: kustomize reads files only in or below "
                     "the kustomization's directory",
                     f"Move the file under {directory}/, or give its directory a kustomization and list that "
                     "directory in resources.")
        return False

    def kind(self, path: str, at: tuple[str, int], what: str) -> str | None:
        """"dir", "file", None (not there) or "refused" (unreadable, or a symbolic link leads out: reported)."""
        full = os.path.join(self.root, path)
        try:
            mode = os.stat(full).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
            reason = err.strerror if isinstance(err, OSError) else "not a valid path"
            self.problem(at, f"{what}: cannot read {path}: {reason}", "Fix the path or its permissions.")
            return "refused"
        real = os.path.realpath(full)
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            self.problem(at, f"{what} leads outside the workspace through a symbolic link",
                         "Keep every file kustomize reads inside the workspace; copy it in instead of linking.")
            return "refused"
        if stat.S_ISDIR(mode):
            return "dir"
        return "file"

    def add_file(self, path: str, at: tuple[str, int]) -> bool:
        if path in self.files:
            return True
        if len(self.files) >= self.max_files:
            self.full = True
            self.problem(at, f"the kustomization reads more than {self.max_files} files",
                         "Split it, or check it for entries that repeat a large tree.")
            return False
        self.files.add(path)
        return True

    # reading a kustomization file ----------------------------------------------------------------
    def load(self, file: str):
        """The parsed kustomization with its lines, or None (the problem reported)."""
        try:
            with open(os.path.join(self.root, file), "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        except OSError as err:
            self.problem((file, 0), f"cannot read: {err.strerror}", "Fix the file's permissions.")
            return None
        if len(raw) > MAX_BYTES:
            self.problem((file, 0), f"larger than {MAX_BYTES} bytes: not read", "A kustomization is a short file; "
                         "move the manifests into files of their own and list them in resources.")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            self.problem((file, raw[:err.start].count(b"\n") + 1), "not valid UTF-8", "Save the file as UTF-8.")
            return None
        fault = shape_fault(text)
        if fault:
            self.problem((file, fault[0]), fault[1], "Write the kustomization as plain nested fields and lists.")
            return None
        try:
            return yamlfile.parse(text, file)
        except ConfigError as err:
            self.problems.extend(err.problems)
            return None


def _join(directory: str, name: str) -> str:
    return name if directory in ("", ".") else f"{directory}/{name}"


def _inside(path: str) -> str | None:
    """`path` normalized, or None when it is absolute or leaves the workspace."""
    if not path or path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    return None if normal == ".." or normal.startswith("../") else normal


def _inline(entry: str) -> bool:
    """An inline patch or plugin configuration, not a path."""
    text = entry.strip()
    return "\n" in text or text.startswith(("{", "[")) or ": " in text


def _remote(entry: str, directory_abs: str) -> bool:
    """kustomize's remote targets: URLs, git addresses, and `host/owner/repo` paths that are not local."""
    if any(marker in entry for marker in _REMOTE_MARKERS):
        return True
    first = entry.split("/", 1)[0]
    if first in _GIT_HOSTS or (_DOMAIN.match(first) and entry.count("/") >= 2):
        return not os.path.lexists(os.path.join(directory_abs, entry))  # kustomize tries the local path first
    return False
