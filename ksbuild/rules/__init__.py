"""Rules turn a validated target into frozen action descriptions. They never run anything.

The registry is explicit: a rule exists when it is listed in `RULES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from ksbuild.loader.schema import Field
from ksbuild.model import ActionSpec, Target, ToolPin


@dataclass(frozen=True)
class Inputs:
    """A target's inputs after resolution, as workspace paths."""

    srcs: tuple[str, ...]  # from `srcs`: files, glob matches and labelled targets' outputs
    dep_outputs: tuple[str, ...]  # outputs of the targets named in `deps`
    dirs: tuple[str, ...] = ()  # directories other targets own, read whole (their files are not known
    #                             until the owner has run): a rule passes them as `input_dirs`

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.srcs + self.dep_outputs))


# Declared outputs: (component-relative path, the field that declared it, for error lines).
# A path ending in "/" is a directory the target owns: files no longer produced there are removed.
Declared = list[tuple[str, str]]


@dataclass(frozen=True)
class GoModule:
    path: str  # the module path from go.mod
    dir: str  # workspace-relative directory holding go.mod


class PlanContext(Protocol):
    """What a rule may ask the loader while planning (answers are data, decided at load time)."""

    def tool(self, target: Target, name: str) -> ToolPin:
        """The workspace's pin for tool `name` (reported as a problem when missing)."""

    def go_module(self, target: Target) -> GoModule:
        """The Go module the target's component is (go.mod at the component root)."""

    def image(self, target: Target, value: str) -> str:
        """An `images:` value: an image artifact's label becomes REPOSITORY:PLACEHOLDER (stamped later);
        anything else is a fixed image reference."""

    def image_artifact(self, target: Target, label: str):
        """The image artifact `label` names (versioning.declare.Artifact), or None (reported)."""

    def chart_artifact(self, target: Target, label: str):
        """The chart artifact `label` names (versioning.declare.Artifact), or None (reported)."""

    def chart_stamps(self, target: Target, chart) -> dict[str, list[dict]]:
        """The stamped references in the chart's files: {workspace path: [reference spec]}."""

    def chart_dependencies(self, target: Target, chart) -> list[dict]:
        """The chart's OCI dependencies, each with the manifest digest workspace.lock records."""

    def image_targets(self, target: Target, chart) -> dict:
        """The image targets building the images the chart names: {artifact label text: target Label}."""

    def read_text(self, target: Target, path: str) -> str | None:
        """A workspace file's text, read at load time (None, reported, when it cannot be read)."""

    def problem_at(self, target: Target, file: str, line: int, message: str, hint: str) -> None:
        """Report a problem located in another file (a Dockerfile's line)."""

    def insecure_registries(self) -> set[str]:
        """Registry hosts workspace.yaml marks `insecure` (plain HTTP)."""

    def version_file(self, component: str) -> str:
        """The workspace path of the file holding `component`'s version for this run."""

    def scratch(self, target: Target, name: str) -> str:
        """A workspace path under .ksbuild/work/ for an intermediate file of the target."""

    def problem(self, target: Target, attr: str, message: str, hint: str) -> None:
        """Report a problem with the target's field `attr`; loading fails after planning."""


@dataclass(frozen=True)
class Rule:
    name: str
    version: int  # bump when the rule's plan changes what it produces: it reruns every target using it
    doc: str
    fields: tuple[Field, ...]
    declare_outputs: Callable[..., Declared]  # (target) or (target, srcs) when outputs_follow_srcs
    plan: Callable[[Target, Inputs, PlanContext], tuple[ActionSpec, ...]]
    outputs_follow_srcs: bool = False  # outputs are named after the resolved srcs (copy)
    reads_dirs: bool = True  # its actions take `Inputs.dirs` as `input_dirs`
    # Inputs the rule always reads, as (srcs entry, field that implies it): go.mod, a header file...
    implicit_srcs: Callable[[Target], list[tuple[str, str]]] = lambda target: []
    # More such inputs, found by asking the loader (a chart's directory and the image targets it names)
    context_srcs: Callable[[Target, PlanContext], list[tuple[str, str]]] = lambda target, ctx: []
    # Go packages (module-relative directories, `dir/...`) whose files, and the files of every package
    # of the same module they import, are inputs: found at load time from their import declarations.
    go_packages: Callable[[Target], list[str]] = lambda target: []
    # Kustomization directories (component-relative) whose files, followed from kustomization.yaml, are
    # inputs: found at load time, a missing one reported with its file:line.
    kustomizations: Callable[[Target], list[tuple[str, str]]] = lambda target: []
    # A regular expression found near the top of every file its generator writes into an owned
    # directory: such a file no longer produced is removed even when no record says it was produced.
    owned_marker: str = ""
    commits_outputs: bool = True  # its outputs are derived files committed to git (`doit generate`, verify)
    # Its plan looks at other components' targets beyond the edges to them (a chart finds the images
    # it names): re-planned whenever any component is (loader.replan).
    reads_workspace_targets: bool = False


def in_place(paths) -> tuple[tuple[str, str], ...]:
    """Path pairs for files that sit at the same place in the execution root as in the workspace."""
    return tuple((path, path) for path in paths)


def _registry() -> dict[str, Rule]:
    from ksbuild.rules import charts, command, copy, golang, images, kustomize

    rules = (command.RULE, copy.RULE, kustomize.KUSTOMIZE_BUILD, kustomize.HELM_TEMPLATES, *golang.RULES,
             images.GO_IMAGE, images.DOCKER_IMAGE, charts.HELM_CHART)
    return {rule.name: rule for rule in rules}


RULES: dict[str, Rule] = _registry()

COMMON_FIELDS = (
    Field("rule", "string", "which rule builds the target: " + ", ".join(sorted(RULES)), required=True),
    Field("srcs", "strings", "input files: paths or globs relative to the component (`*`, `**`), "
          "or labels (`:target`, `//component:target`) meaning that target's outputs"),
    Field("deps", "strings", "labels of targets whose outputs this target also reads; they build first"),
    Field("doc", "string", "one line shown by `doit list`"),
    Field("format", "list", "formatting steps over the outputs, each run in the sandbox after the command: "
          "`{tool: NAME, args: [...], files: GLOB}` (a pinned tool; the matching outputs' paths follow the args)"),
    Field("tool_pins", "string_map", "which pin serves a tool the rule runs, e.g. `{controller-gen: "
          "controller-gen-v0.14}` (default: the pin of the same name, the component's before the workspace's)"),
)
FORMAT_FIELDS = (
    Field("tool", "string", "the pinned tool (a name under `tools:`)", required=True),
    Field("args", "strings", "its arguments, before the files, e.g. [-w, -local, github.com/kubestellar]"),
    Field("files", "string", "a glob over the target's outputs, relative to the component (default: every output)"),
)
