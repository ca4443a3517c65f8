"""What the Makefile and the hack scripts say, read as text and never run: the tool versions they pin
(`CONTROLLER_TOOLS_VERSION ?= v0.14.0`, `go install PKG@vX`, kubebuilder's `go-install-tool` calls),
how they call controller-gen, and the `-local` prefix they give goimports."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ksbuild.init.repo import Repo
from ksbuild.loader.workspace import EXACT_VERSION

MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
SCRIPT_DIRS = ("hack/", "scripts/", "make/", "build/")
_ASSIGN = re.compile(r"^\s*(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|::=|\+=|=)\s*(.*?)\s*$")
_SHELL_ASSIGN = re.compile(r"^\s*(?:export\s+|readonly\s+|local\s+)?([A-Z_][A-Z0-9_]*)=(\S*)\s*$")
_REFERENCE = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)(?::-([^)}]*))?[)}]")
_PACKAGE_AT = re.compile(r"((?:sigs\.k8s\.io|k8s\.io|golang\.org)/[\w./-]+?)\s*(?:@|,)\s*([^\s,;)}\"'@]+)")

# Tool name -> its package (kustomize's module path carries its major version: see package_for)
PACKAGES = {
    "controller-gen": "sigs.k8s.io/controller-tools/cmd/controller-gen",
    "client-gen": "k8s.io/code-generator/cmd/client-gen",
    "lister-gen": "k8s.io/code-generator/cmd/lister-gen",
    "informer-gen": "k8s.io/code-generator/cmd/informer-gen",
    "kustomize": "sigs.k8s.io/kustomize/kustomize/v5",
    "goimports": "golang.org/x/tools/cmd/goimports",
}
CODE_GENERATORS = ("client-gen", "lister-gen", "informer-gen")
# Variables kubebuilder and code-generator projects name their pins with.
VERSION_VARIABLES = {
    "CONTROLLER_TOOLS_VERSION": ("controller-gen",), "CONTROLLER_GEN_VERSION": ("controller-gen",),
    "CONTROLLERGEN_VERSION": ("controller-gen",), "KUSTOMIZE_VERSION": ("kustomize",),
    "CODE_GENERATOR_VERSION": CODE_GENERATORS, "CODEGEN_VERSION": CODE_GENERATORS,
    "CODE_GEN_VERSION": CODE_GENERATORS, "GOIMPORTS_VERSION": ("goimports",),
}


@dataclass(frozen=True)
class Pin:
    version: str
    package: str
    source: str  # file:line


@dataclass
class Scripts:
    pins: dict[str, Pin] = field(default_factory=dict)  # tool -> pin
    floating: list[tuple[str, str, str]] = field(default_factory=list)  # (tool, value, file:line)
    controller_gen: list[tuple[str, str]] = field(default_factory=list)  # (expanded command, file:line)
    goimports_local: tuple[str, str] | None = None  # (prefix, file:line)
    lines: list[tuple[str, str]] = field(default_factory=list)  # every line, variables expanded, with file:line
    read: list[str] = field(default_factory=list)  # the files read


def tool_for(package: str) -> tuple[str, ...]:
    """The tools a package path installs: a command, or code-generator's module (all three)."""
    if package.startswith("sigs.k8s.io/kustomize/kustomize"):
        return ("kustomize",)
    if package.rstrip("/") in ("k8s.io/code-generator", "k8s.io/code-generator/cmd/..."):
        return CODE_GENERATORS
    return tuple(tool for tool, known in PACKAGES.items() if known == package)


def package_for(tool: str, version: str) -> str:
    if tool == "kustomize":  # kustomize/v5 for v5.x.y: the module path carries the major version
        major = re.match(r"v(\d+)\.", version)
        return f"sigs.k8s.io/kustomize/kustomize/v{major.group(1) if major else 5}"
    return PACKAGES[tool]


def read(repo: Repo) -> Scripts:
    found = Scripts()
    sources = [name for name in MAKEFILES if repo.on_disk(name)]
    sources += sorted(p for p in repo.files if p.endswith(".mk") or (p.startswith(SCRIPT_DIRS) and p.endswith(".sh")))
    lines: list[tuple[str, str]] = []  # (logical line, file:line)
    for path in dict.fromkeys(sources):
        text = repo.text(path)
        if text is not None:
            found.read.append(path)
            lines += _logical_lines(text, path)
    variables = _variables(lines)
    for line, where in lines:
        expanded = expand(line, variables)
        found.lines.append((expanded, where))
        _pins_named_by_package(found, expanded, line, where, variables)
        installs = re.search(r"go (install|get|run)|go-install-tool", line)
        if re.search(r"controller-gen|CONTROLLER_GEN", line) and not installs:
            found.controller_gen.append((expanded, where))
        local = re.search(r"goimports\b.*?-local[= ]\s*(\S+)", expanded)
        if local and found.goimports_local is None:
            found.goimports_local = (local.group(1).strip("\"'"), where)
    for name, (value, where) in variables.items():
        for tool in VERSION_VARIABLES.get(name, ()):
            if tool not in found.pins:
                _pin(found, tool, expand(value, variables), package_for(tool, expand(value, variables)), where)
    return found


def _logical_lines(text: str, path: str) -> list[tuple[str, str]]:
    """Lines with `\\` continuations joined and comments dropped, each with its first file:line."""
    result, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        result.append((pending + line, f"{path}:{start}"))
        pending = ""
    if pending:
        result.append((pending, f"{path}:{start}"))
    return result


def _variables(lines: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Make and shell variables: name -> (value, file:line). `?=` keeps an earlier value; a shell's
    `${X:-v1.2.3}` default counts as the value."""
    found: dict[str, tuple[str, str]] = {}
    for line, where in lines:
        match = _ASSIGN.match(line) or _SHELL_ASSIGN.match(line)
        if not match:
            continue
        name, value = match.group(1), match.group(match.lastindex)
        operator = match.group(2) if match.re is _ASSIGN else "="
        value = value.strip().strip("\"'")
        own_default = _REFERENCE.fullmatch(value)
        if own_default and own_default.group(1) == name and own_default.group(2):
            value = own_default.group(2)
        if operator == "?=" and name in found:
            continue
        found[name] = (value, where)
    return found


def expand(text: str, variables: dict[str, tuple[str, str]], depth: int = 0) -> str:
    if depth > 8 or "$" not in text:
        return text

    def one(match: re.Match) -> str:
        value = variables.get(match.group(1), (match.group(2) or "", ""))[0]
        return expand(value, variables, depth + 1)

    return _REFERENCE.sub(one, text)


def _pins_named_by_package(found: Scripts, expanded: str, line: str, where: str, variables) -> None:
    """`go install PKG@V`, `go run PKG@V` and `$(call go-install-tool,BIN,PKG,V)` lines; the source
    is the variable's line when the version came from one."""
    for match in _PACKAGE_AT.finditer(expanded):
        package, version = match.group(1).rstrip("/"), match.group(2)
        named = re.search(r"@\$[({](\w+)|,\s*\$[({](\w+)[)}]\s*\)", line)
        source = variables.get(named.group(1) or named.group(2), ("", where))[1] if named else where
        for tool in tool_for(package):
            if tool not in found.pins:  # code-generator's module names all three of its commands
                _pin(found, tool, version, package if tool_for(package) == (tool,) else PACKAGES[tool], source)


def _pin(found: Scripts, tool: str, version: str, package: str, where: str) -> None:
    if EXACT_VERSION.match(version):
        found.pins[tool] = Pin(version, package, where)
    elif (tool, version, where) not in found.floating:
        found.floating.append((tool, version, where))


def controller_gen_option(commands: list[tuple[str, str]], pattern: str) -> tuple[str, str] | None:
    """The first value of `pattern` (a regex with one group) in the controller-gen commands, unquoted."""
    for command, where in commands:
        match = re.search(pattern, command)
        if match:
            return match.group(1).strip("\"'"), where
    return None
