"""`command`: a generic declared action, like Bazel's genrule."""
from __future__ import annotations

from ksbuild.loader.schema import Field
from ksbuild.model import ActionSpec, Target
from ksbuild.rules import Inputs, PlanContext, Rule, in_place


def declare_outputs(target: Target):
    return [(out, "outs") for out in target.attrs["outs"]]


def plan(target: Target, inputs: Inputs, ctx: PlanContext) -> tuple[ActionSpec, ...]:
    outs = [target.path(out) for out in target.attrs["outs"]]
    return (ActionSpec(
        mnemonic="Command",
        description=f"{target.label.task}: {' '.join(target.attrs['cmd'])[:80]}",
        argv=tuple(target.attrs["cmd"]),
        inputs=in_place(inputs.all),
        input_dirs=in_place(inputs.dirs),
        outputs=in_place(outs),
        cwd=target.component_dir,
        env=tuple(sorted(target.attrs.get("env", {}).items())),
        tools=tuple(ctx.tool(target, name) for name in target.attrs.get("tools", ())),
    ),)


RULE = Rule(
    name="command",
    version=1,
    doc="Runs `cmd` in the component's directory inside a fresh execution root that holds only the "
        "declared inputs; `outs` come back into the component when it succeeds.",
    fields=(
        Field("outs", "strings", "files the command writes, relative to the component", required=True),
        Field("cmd", "argv", "the command line, as a list (no shell unless you call one)", required=True),
        Field("env", "string_map", "extra environment variables for the command"),
        Field("tools", "strings", "pinned tools (workspace.yaml `tools:`) put first on PATH, with the Go "
              "toolchain and the machine's Go module settings"),
    ),
    declare_outputs=declare_outputs,
    plan=plan,
)
