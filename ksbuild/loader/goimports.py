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

import ast
import codecs
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Iterable

FIRST_READ = 4096  # bytes; a license header and an import block usually fit
MAX_HEADER = 1 << 20  # an import section that does not end within 1 MiB is reported, not read on
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
        for owned in sorted(self.owned):
            if base == "." or owned == base or owned.startswith(base + "/"):
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
_SPACE = r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*+"  # possessive: no backtracking, whatever the input
_SKIP = re.compile(_SPACE, re.S)
_TOKEN = re.compile(_SPACE + r"""                     # white space and comments, then the token
    (?: (?P<ident>[^\W\d]\w*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
      | (?P<punct>[;().])
      | (?P<end>\Z) )
""", re.S | re.X)


class _NeedMore(Exception):
    """The text read so far ends inside the import section."""


def read_imports(path_abs: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """The import paths of one Go file with their lines, read only up to the end of its import
    section; and (line, message) when the file cannot be read or decoded or is malformed there
    (the imports before the fault are still returned)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    text, size = "", FIRST_READ
    try:
        with open(path_abs, "rb") as handle:
            while True:
                chunk = handle.read(size)
                eof = len(chunk) < size
                try:
                    text += decoder.decode(chunk, final=eof)
                except UnicodeDecodeError as err:
                    line = text.count("\n") + chunk[:err.start].count(b"\n") + 1
                    return _parse(text, True, partial=True)[0], (line, "not valid UTF-8")
                try:
                    return _parse(text, eof)
                except _NeedMore:
                    if len(text) >= MAX_HEADER:
                        return _parse(text, True, partial=True)[0], (
                            text.count("\n") + 1, f"the import section does not end in the first {MAX_HEADER} bytes")
                    size = len(text)  # read as much again
    except OSError as err:
        return [], (0, f"cannot read: {err.strerror}")


def parse_imports(text: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """`read_imports` for a whole file's text."""
    return _parse(text, True)


def _tokens(text: str, eof: bool):
    """(kind, text, offset) of each token; kind None at the end, "bad" for what is not Go here."""
    pos, end_of_text, match = (1 if text.startswith("\ufeff") else 0), len(text), _TOKEN.match
    while True:
        if pos >= end_of_text:
            if not eof:
                raise _NeedMore
            yield None, "", pos
            return
        found = match(text, pos)
        if found is None or (found.end() == end_of_text and not eof):
            if not eof:
                raise _NeedMore  # an unterminated comment or string, or a token that may go on
            pos = _SKIP.match(text, pos).end()
            yield "bad", text[pos], pos
            return
        kind = found.lastgroup
        start = found.start(kind)
        if kind == "end":
            yield None, "", start
            return
        yield kind, found.group(kind), start
        pos = found.end()


def _parse(text: str, eof: bool, partial: bool = False):
    """(imports, error); `partial`: the text is cut short, so its end is not reported."""
    imports: list[tuple[str, int]] = []

    def line_at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def fail(offset: int, message: str):
        return imports, (None if partial else (line_at(offset), message))

    tokens = _tokens(text, eof)
    kind, value, pos = next(tokens)
    if (kind, value) != ("ident", "package"):
        return fail(pos, "expected the package clause (`package name`) first")
    kind, value, pos = next(tokens)
    if kind != "ident":
        return fail(pos, "expected a package name after `package`")
    kind, value, pos = next(tokens)
    while True:
        if kind == "punct" and value == ";":
            kind, value, pos = next(tokens)
            continue
        if (kind, value) != ("ident", "import"):
            return imports, None  # the end of the import section
        kind, value, pos = next(tokens)
        grouped = (kind, value) == ("punct", "(")
        if grouped:
            kind, value, pos = next(tokens)
        while True:
            if grouped and kind == "punct" and value in ";)":
                if value == ")":
                    kind, value, pos = next(tokens)
                    break
                kind, value, pos = next(tokens)
                continue
            spec = pos
            if kind == "ident" or (kind, value) == ("punct", "."):
                kind, value, pos = next(tokens)  # the package name: `name`, `_` or `.`
            if kind != "string":
                return fail(spec, "malformed import declaration: expected an import path string"
                            if kind else "the file ends inside an import declaration")
            path = _unquote(value)
            if path is None:
                return fail(pos, f"malformed import path {value}")
            imports.append((path, line_at(pos)))
            kind, value, pos = next(tokens)
            if not grouped:
                break


def _unquote(literal: str) -> str | None:
    if literal[0] == "`" or "\\" not in literal:
        return literal[1:-1]
    try:
        value = ast.literal_eval(literal)  # Go's escapes in an import path are Python's too
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


# explaining a Go tool's failure --------------------------------------------------------------------
_PACKAGE_PATTERNS = (
    re.compile(r"cannot find module providing package (\S+)"),
    re.compile(r"no required module provides package (\S+)"),
    re.compile(r"package (\S+) is not in (?:std|GOROOT)\b"),
    re.compile(r'cannot find package "([^"]+)"'),
    re.compile(r"(?:^|\s)module (\S+): reading \S+: [45]\d\d ", re.M),  # the proxy refused to list it
)
_FORBIDDEN_PATTERNS = (
    re.compile(r"(?:^|\s)(?:go: )?(?:verifying )?([^\s@:]+)@[^\s:]+: .*403 Forbidden", re.M),
    re.compile(r"https?://\S+?/(\S+?)/@(?:v|latest)\S*: 403 Forbidden"),
)


def explain_go_failure(output: str, module_path: str) -> str:
    """A one- or two-line hint for a Go tool's output that shows a package missing from the
    sandbox or from the module's dependencies, naming the package; '' when there is none."""
    module_path = module_path.rstrip("/")
    found: list[tuple[int, str]] = []  # (offset, package), to name them in the order they appear
    for pattern in _PACKAGE_PATTERNS:
        found += [(m.start(), m.group(1).strip("\"'`").rstrip(":;,.")) for m in pattern.finditer(output)]
    forbidden = "403 Forbidden" in output
    if forbidden and not found:
        for pattern in _FORBIDDEN_PATTERNS:
            found += [(m.start(), _unescape_module(m.group(1))) for m in pattern.finditer(output)]
    packages = list(dict.fromkeys(package for _, package in sorted(found) if package))
    if not packages:
        return ("the Go module proxy answered 403 Forbidden: a dependency is not in go.mod/go.sum or the module "
                "cache: run `go mod tidy`") if forbidden else ""
    lines = [_hint(package, module_path, forbidden) for package in packages[:2]]
    if len(packages) > 2:
        lines[-1] += f" (and {len(packages) - 2} more)"
    return "\n".join(lines)


def _hint(package: str, module_path: str, forbidden: bool) -> str:
    if package == module_path or package.startswith(module_path + "/"):
        return (f"package {package} (in this module) was not in the sandbox: it is imported but was not found "
                "as an input; check that its directory holds .go files")
    proxy = " (the Go module proxy answered 403 Forbidden)" if forbidden else ""
    return f"package {package} is not in go.mod/go.sum or the module cache{proxy}: run `go mod tidy`"


def _unescape_module(escaped: str) -> str:
    """A module path as the proxy protocol writes it (`!x` for an upper-case X) back to itself."""
    return re.sub(r"!([a-z])", lambda m: m.group(1).upper(), escaped)
