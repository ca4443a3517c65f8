"""What a failed Go tool's output means, in a line: which package it could not load, and whether
that is a package of the module missing from the sandbox or a dependency missing from go.mod."""
from __future__ import annotations

import re


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
