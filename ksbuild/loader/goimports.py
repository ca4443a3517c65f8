"""Which Go files a Go code generator needs: the named packages and, transitively, the packages of
the same module they import (as Gazelle does it, from the import declarations, without `go list`).

A generator loads the packages it is given with their imports; a package of the module that is not
in the sandbox makes it fail (`api/control/v1alpha1` imports `api/control`). `same_module_packages`
reads only the import section of each non-test `.go` file (up to the first declaration that is not
an import) and follows the imports whose path is the module path or starts with it and '/'.

Pure and plan-time: it reads files and lists directories, nothing else. Every path it takes and
returns is relative to the module root, '/'-separated, `.` for the root itself.

What it does not see: build constraints (every non-test file counts), `//go:embed` files, cgo and
assembly sources, packages reached through `replace` directives to local directories, and the
imports of files another target writes (`generated_files`, `owned`).
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Iterable

from ksbuild.loader.goparse import read_imports
SKIPPED_DIRS = frozenset({"testdata", "vendor"})  # never packages of `dir/...` (as for the go tool)


@dataclass(frozen=True)
class PackageScan:
    """What `same_module_packages` found; all paths module-relative."""

    dirs: tuple[str, ...]  # every package directory needed: the named ones (in the order given, each
    #                        `dir/...` expanded in sorted order), then the imported ones, sorted
    files: tuple[str, ...]  # the non-test .go files of those directories (generated ones included), sorted
    missing: tuple[tuple[str, str, int], ...]  # (import path, importing file, line): a same-module
    #                        package whose directory does not exist or holds no non-test .go file;
    #                        once per (import path, file), sorted by file and line
    scanned: tuple[str, ...]  # the files whose imports were read, sorted (watch them for changes)
    listed: tuple[str, ...]  # the directories whose listing decided the result (existing or not), sorted
    not_found: tuple[str, ...]  # `packages` entries, as given, that name no directory with .go files
    generated: tuple[str, ...]  # the `owned` directories holding a needed package: its files are only
    #                        known once their owner has run, so read the owned directory whole; sorted
    errors: tuple[tuple[str, int, str], ...]  # (file, line, message): a file that could not be read or
    #                        decoded as UTF-8, or whose package clause or import section is malformed


def same_module_packages(module_dir_abs: str, module_path: str, packages: Iterable[str], *,
                         generated_files: Iterable[str] = (), owned: Iterable[str] = (),
                         skip_files: Iterable[str] = ()) -> PackageScan:
    """The packages `packages` need from their own module, and their files.

    `module_dir_abs`: the directory holding go.mod; `module_path`: its `module` line (a major
    version suffix such as `example.com/m/v2` is part of it). `packages`: package directories
    relative to the module root (`.`, `api/v1`, `./api/v1`); `dir/...` (or `...`) means every
    directory below `dir` holding non-test .go files, skipping `testdata`, `vendor`, names starting
    with `.` or `_`, and nested modules (directories with their own go.mod). An entry that is
    absolute or leaves the module is not read; it is returned in `not_found`.

    `generated_files`: .go files other targets write (their declared outputs): they are files of
    their directory's package whether or not they exist yet, and their imports are not read.
    `owned`: directories other targets own (their whole content is an output): a needed package
    inside one is in `dirs`, its files are not read, and the owned directory is in `generated`.
    `skip_files`: files neither read nor returned, such as the target's own outputs (a stale
    `zz_generated.deepcopy.go` is not in its sandbox, so its imports do not count).

    Imports that cross into a nested module (a directory below the root with its own go.mod) are
    another module's, and are not followed.
    """
    scan = _Scan(module_dir_abs, module_path, generated_files, owned, skip_files)
    return scan.run(list(packages))


class _Scan:
    def __init__(self, module_dir_abs: str, module_path: str, generated_files: Iterable[str],
                 owned: Iterable[str], skip_files: Iterable[str]):
        self.root = module_dir_abs
        self.skip = {_clean(path) for path in skip_files}
        self.module_path = module_path.rstrip("/")
        self.generated_files: dict[str, list[str]] = {}  # directory -> names
        for path in generated_files:
            path = _clean(path)
            if path and path.endswith(".go") and not path.endswith("_test.go"):
                directory, name = posixpath.split(path)
                self.generated_files.setdefault(directory or ".", []).append(name)
        self.owned = {d for d in (_clean(o.rstrip("/")) for o in owned) if d}
        self.listings: dict[str, tuple[list[str], list[str], bool] | None] = {}
        self.modules: dict[str, bool] = {}  # directory -> holds a go.mod
        self.resolved: dict[str, str | None] = {}  # import path -> module directory, or None
        self.errors: list[tuple[str, int, str]] = []
        self.scanned: list[str] = []

    # listing -----------------------------------------------------------------------------------
    def _listing(self, directory: str) -> tuple[list[str], list[str], bool] | None:
        """(non-test .go file names, subdirectory names, holds go.mod) of a directory, or None."""
        if directory in self.listings:
            return self.listings[directory]
        result = None
        try:
            with os.scandir(os.path.join(self.root, directory)) as entries:
                files, subdirs, go_mod = [], [], False
                for entry in entries:
                    name = entry.name
                    if name.endswith(".go"):
                        if not name.endswith("_test.go") and name[0] not in "._" and entry.is_file():
                            files.append(name)
                    elif name == "go.mod":
                        go_mod = True
                    elif entry.is_dir():
                        subdirs.append(name)
                result = (sorted(files), sorted(subdirs), go_mod)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as err:
            self.errors.append((directory, 0, f"cannot list the directory: {err.strerror}"))
        self.listings[directory] = result
        return result

    def _owner(self, directory: str) -> str | None:
        """The directory of `owned` that holds `directory` (the innermost), if any."""
        if not self.owned:
            return None
        while True:
            if directory in self.owned:
                return directory
            if directory in (".", ""):
                return None
            directory = posixpath.dirname(directory) or "."

    def _owned(self, directory: str) -> bool:
        return self._owner(directory) is not None

    def _in_nested_module(self, directory: str) -> bool:
        """Whether `directory` (below the root) is inside a nested module: then it is not ours.
        Walked down from the root, so a long made-up path stops at its first missing directory."""
        current = ""
        for part in directory.split("/"):
            current = f"{current}/{part}" if current else part
            if current not in self.modules:
                listing = self._listing(current)
                if listing is None:
                    return False
                self.modules[current] = listing[2]
            if self.modules[current]:
                return True
        return False

    def _files_of(self, directory: str) -> list[str]:
        """The package's files as names: on disk and generated."""
        listing = self._listing(directory)
        names = set(listing[0]) if listing else set()
        names.update(self.generated_files.get(directory, ()))
        if self.skip:
            names = {name for name in names if (name if directory == "." else f"{directory}/{name}") not in self.skip}
        return sorted(names)

    # named packages ----------------------------------------------------------------------------
    def _expand(self, entry: str) -> list[str] | None:
        """The directories an entry of `packages` names; None when it is not a module path."""
        text = entry.strip()
        recursive = text == "..." or text.endswith("/...")
        base = _clean((text[:-3].rstrip("/") or ".") if recursive else text)
        if base is None:
            return None
        if not recursive:
            return [base]
        found = []
        for owned in sorted(self.owned):  # `./...` skips what Go skips: .dirs, _dirs, testdata
            below = owned if base == "." else owned[len(base) + 1:] if owned.startswith(base + "/") else None
            if owned == base or (below is not None
                                 and not any(p in SKIPPED_DIRS or p[0] in "._" for p in below.split("/"))):
                found.append(owned)
        stack = [base]
        while stack:  # depth first, sorted
            directory = stack.pop()
            if self._owned(directory):
                continue
            listing = self._listing(directory)
            if listing is None:
                continue
            if directory != base and listing[2]:
                continue  # a nested module
            if self._files_of(directory):
                found.append(directory)
            for name in reversed(listing[1]):
                if name not in SKIPPED_DIRS and name[0] not in "._":
                    stack.append(name if directory == "." else f"{directory}/{name}")
        return sorted(set(found))

    # the walk ----------------------------------------------------------------------------------
    def run(self, packages: list[str]) -> PackageScan:
        named: list[str] = []
        not_found: list[str] = []
        for entry in packages:
            dirs = self._expand(entry)
            dirs = [d for d in dirs or () if self._owned(d) or self._files_of(d)]
            if not dirs:
                not_found.append(entry)
            named.extend(d for d in dirs if d not in named)
        needed = dict.fromkeys(named)
        queue = list(named)  # grows while it is walked
        missing: dict[tuple[str, str], int] = {}
        for directory in queue:
            if self._owned(directory):
                continue
            generated = set(self.generated_files.get(directory, ()))
            for name in self._files_of(directory):
                if name in generated:
                    continue
                file = name if directory == "." else f"{directory}/{name}"
                for path, line in self._imports(file):
                    target = self._module_dir(path, file, line)
                    if target is None or target in needed:
                        continue
                    if self._owned(target) or self._files_of(target):
                        needed[target] = None
                        queue.append(target)
                    else:
                        missing.setdefault((path, file), line)
        imported = sorted(d for d in needed if d not in named)
        dirs = named + imported
        files = sorted(name if d == "." else f"{d}/{name}" for d in dirs if not self._owned(d)
                       for name in self._files_of(d))
        return PackageScan(
            dirs=tuple(dirs),
            files=tuple(files),
            missing=tuple(sorted(((path, file, line) for (path, file), line in missing.items()),
                                 key=lambda item: (item[1], item[2], item[0]))),
            scanned=tuple(sorted(self.scanned)),
            listed=tuple(sorted(self.listings)),
            not_found=tuple(not_found),
            generated=tuple(sorted({self._owner(d) for d in dirs} - {None})),
            errors=tuple(sorted(self.errors)),
        )

    def _module_dir(self, path: str, file: str, line: int) -> str | None:
        """The module-relative directory of a same-module import path, or None."""
        if path in self.resolved:
            return self.resolved[path]
        self.resolved[path] = directory = self._resolve(path, file, line)
        return directory

    def _resolve(self, path: str, file: str, line: int) -> str | None:
        if path == self.module_path:
            return "."
        if not path.startswith(self.module_path + "/"):
            return None
        rest = path[len(self.module_path) + 1:]
        if _clean(rest) != rest or "\\" in rest:
            self.errors.append((file, line, f"invalid import path {path!r}"))  # once per path
            return None
        if self._in_nested_module(rest):
            return None  # another module's package, from the module cache
        return rest

    def _imports(self, file: str) -> list[tuple[str, int]]:
        self.scanned.append(file)
        imports, error = read_imports(os.path.join(self.root, file))
        if error:
            self.errors.append((file, *error))
        return imports


def _clean(path: str) -> str | None:
    """A module-relative path in normal form, or None when it is absolute or leaves the module."""
    if not path or path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return None
    return normal


# reading the import section ------------------------------------------------------------------------
