"""The tool pins for workspace.yaml: for each tool the targets run, the version the repository's
committed outputs show, else its Makefile or scripts, else its go.mod, else the constellation's."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ksbuild.init.defaults import DEFAULT_PACKAGES, DEFAULT_VERSIONS, KNOWN_BUILD_GO
from ksbuild.init.gomod import GoMod
from ksbuild.init.report import Report
from ksbuild.init.scripts import CODE_GENERATORS, Scripts, package_for
from ksbuild.loader.workspace import EXACT_VERSION

# go.mod requirements that say a tool's version: (module, tools, how to say it)
GO_MOD_HINTS = (
    ("sigs.k8s.io/controller-tools", ("controller-gen",), "required"),
    ("k8s.io/code-generator", CODE_GENERATORS, "required"),
    ("k8s.io/client-go", CODE_GENERATORS, "code-generator is released with client-go"),
)
ORDER = ("controller-gen", "client-gen", "lister-gen", "informer-gen", "kustomize", "goimports")


@dataclass(frozen=True)
class ToolPin:
    name: str
    package: str
    version: str
    go: str  # the Go release that builds it, or '' for the workspace's
    source: str  # where the version came from, for a comment beside the pin


def choose(needed: set[str], scripts: Scripts, gomod: GoMod, evidence: dict[str, tuple[str, str]],
           report: Report) -> list[ToolPin]:
    """`evidence`: tool -> (version, file) read from the committed outputs (controller-gen's CRD annotation)."""
    pins = []
    for tool in sorted(needed, key=ORDER.index):
        version, package, source = _pick(tool, scripts, gomod, evidence, report)
        go = KNOWN_BUILD_GO.get((package, version), "")
        if go:
            report.inferred(f"{tool} {version} is built with Go {go}",
                            "the constellation's pin of it: current Go does not compile it")
        elif _older(version, DEFAULT_VERSIONS[tool]):
            report.note(f"{tool} {version} is older than the constellation's {DEFAULT_VERSIONS[tool]}: if "
                        "`ksbuild tools` says it does not compile, add the `go:` release it names to its pin")
        pins.append(ToolPin(tool, package, version, go, source))
    for tool, value, where in scripts.floating:
        if tool in needed:
            report.note(f"{where} pins {tool} to {value!r}, not an exact version: not used")
    return pins


def _pick(tool: str, scripts: Scripts, gomod: GoMod, evidence, report: Report) -> tuple[str, str, str]:
    pinned = scripts.pins.get(tool)
    if tool in evidence:
        version, where = evidence[tool]
        if pinned and pinned.version != version:
            report.note(f"{pinned.source} pins {tool} {pinned.version}, but {where} was made by {version}: "
                        f"pinned {version}, so verify checks what is committed; bump it and run `ksbuild generate` "
                        "to move on")
        report.inferred(f"tool {tool} {version}", f"{where}, which it made")
        return version, pinned.package if pinned else package_for(tool, version), f"what made {where}"
    if pinned:
        report.inferred(f"tool {tool} {pinned.version}", pinned.source)
        return pinned.version, pinned.package, pinned.source
    for module, tools, how in GO_MOD_HINTS:
        version, line = gomod.requires.get(module, ("", 0))
        if tool in tools and EXACT_VERSION.match(version):
            report.inferred(f"tool {tool} {version}", f"go.mod:{line}, {module} {version} ({how})")
            return version, package_for(tool, version), f"go.mod:{line}"
    version = DEFAULT_VERSIONS[tool]
    looked = ", ".join(scripts.read + ["go.mod"]) if scripts.read else "go.mod (there is no Makefile or hack/*.sh)"
    report.fallback(f"tool {tool} {version}", f"the constellation's pin: nothing pins it in {looked}; pin the "
                    "version your repository uses under `tools:` in workspace.yaml")
    return version, DEFAULT_PACKAGES[tool], "the constellation's pin"


def _older(version: str, than: str) -> bool:
    def key(text: str) -> tuple[int, ...]:
        match = re.match(r"v(\d+)\.(\d+)\.(\d+)", text)
        return tuple(int(n) for n in match.groups()) if match else (0, 0, 0)

    return key(version) < key(than)
