"""`copy`: the same files in one or more other places (CRDs live in two places)."""
from __future__ import annotations

import posixpath

from ksbuild.loader.schema import Field
from ksbuild.model import ActionSpec, Target
from ksbuild.rules import Inputs, Rule, in_place


def _pairs(target: Target, srcs) -> list[tuple[str, str]]:
    """(source, destination) per file and destination directory, component-relative destinations."""
    return [(src, posixpath.join(directory, posixpath.basename(src)))
            for directory in target.attrs["to"] for src in srcs]


def declare_outputs(target: Target, srcs):
    return [(dest, "to") for _, dest in _pairs(target, srcs)]


def plan(target: Target, inputs: Inputs, ctx=None) -> tuple[ActionSpec, ...]:
    pairs = [(src, target.path(dest)) for src, dest in _pairs(target, inputs.srcs)]
    return (ActionSpec(
        mnemonic="Copy",
        description=f"{target.label.task}: copy {len(inputs.srcs)} file(s) to {', '.join(target.attrs['to'])}",
        argv=tuple(path for pair in pairs for path in pair),
        inputs=in_place(inputs.all),
        outputs=in_place(dest for _, dest in pairs),
        builtin="copy",
    ),)


RULE = Rule(
    name="copy",
    version=1,
    doc="Copies each file of `srcs` into every directory of `to`, keeping its base name.",
    fields=(
        Field("to", "strings", "destination directories, relative to the component", required=True),
    ),
    declare_outputs=declare_outputs,
    plan=plan,
    outputs_follow_srcs=True,
    reads_dirs=False,
)
