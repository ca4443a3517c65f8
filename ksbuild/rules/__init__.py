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


def in_place(paths) -> tuple[tuple[str, str], ...]:
    """Path pairs for files that sit at the same place in the execution root as in the workspace."""
    return tuple((path, path) for path in paths)


def _registry() -> dict[str, Rule]:
    from ksbuild.rules import command, copy, golang, kustomize

    rules = (command.RULE, copy.RULE, kustomize.KUSTOMIZE_BUILD, kustomize.HELM_TEMPLATES, *golang.RULES)
    return {rule.name: rule for rule in rules}


RULES: dict[str, Rule] = _registry()

COMMON_FIELDS = (
    Field("rule", "string", "which rule builds the target: " + ", ".join(sorted(RULES)), required=True),
    Field("srcs", "strings", "input files: paths or globs relative to the component (`*`, `**`), "
          "or labels (`:target`, `//component:target`) meaning that target's outputs"),
    Field("deps", "strings", "labels of targets whose outputs this target also reads; they build first"),
    Field("doc", "string", "one line shown by `doit list`"),
)
