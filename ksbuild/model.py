"""Frozen data shared by the loader, the rules, the executor and the doit glue. No I/O here."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True, order=True)
class Label:
    """A target's address: `//component:target`; its doit task is `component:target`."""

    component: str
    target: str

    def __str__(self) -> str:
        return f"//{self.component}:{self.target}"

    @property
    def task(self) -> str:
        return f"{self.component}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> "Label":
        """`//component:target` (as `str()` writes it)."""
        component, _, target = text.removeprefix("//").partition(":")
        return cls(component, target)


@dataclass(frozen=True)
class Component:
    name: str
    path: str  # workspace-relative directory, '/'-separated
    file: str  # where it is declared
    line: int
    tags: str = "v*"  # the git tags its version comes from
    build_file: str = ""  # workspace-relative BUILD.yaml when it is not in `path` (an overlay)
    tools: tuple["ToolPin", ...] = ()  # its own pins, over the workspace's
    go: str = ""  # the Go release its Go actions run with ("" = the workspace's)


@dataclass(frozen=True)
class ToolPin:
    """A tool installed with `go install PACKAGE@VERSION`."""

    name: str
    package: str
    version: str
    go: str = ""  # the Go release that builds it, e.g. 1.21.13; "" = the machine's Go
    owner: str = field(default="", compare=False)  # the component that pins it ("" = the workspace)

    @property
    def binary(self) -> str:
        """The file name `go install` gives the command (a major-version suffix is skipped)."""
        parts = self.package.split("/")
        last = parts[-1]
        if len(parts) > 1 and last[:1] == "v" and last[1:].isdigit():
            last = parts[-2]
        return last

    def __str__(self) -> str:
        return f"{self.package}@{self.version}" + (f" (go {self.go})" if self.go else "")

    @property
    def task(self) -> str:
        """Its install task: `tool:NAME`, or `tool:COMPONENT.NAME` for a component's own pin."""
        return f"tool:{self.owner}.{self.name}" if self.owner else f"tool:{self.name}"


@dataclass(frozen=True)
class CacheSettings:
    """workspace.yaml `cache:` as written; environment overrides are applied when a run starts."""

    dir: str = ""
    max_size: str = ""
    remote: str = ""
    remote_mode: str = ""
    remote_timeout: int = 0
    remote_auth_env: str = ""
    signing_key_env: str = ""
    require_signature: bool = False

    def errors(self) -> list[tuple[str, str]]:
        found = []
        if self.remote_mode and self.remote_mode not in REMOTE_MODES:
            found.append(("remote_mode", f"remote_mode {self.remote_mode!r} is not one of {', '.join(REMOTE_MODES)}"))
        if self.remote and not self.remote.startswith(("http://", "https://", "file://")):
            found.append(("remote", f"remote {self.remote!r} is not an http://, https:// or file:// URL"))
        if self.max_size and parse_size(self.max_size) is None:
            found.append(("max_size", f"max_size {self.max_size!r} is not a size such as 500MiB or 10GiB"))
        if self.remote_timeout < 0:
            found.append(("remote_timeout", "remote_timeout must not be negative"))
        name = self.signing_key_env
        if name and not (name.replace("_", "a").isalnum() and name.isascii() and not name[0].isdigit()):
            found.append(("signing_key_env", f"signing_key_env {name!r} is not an environment variable name"))
        return found


REMOTE_MODES = ("rw", "ro", "off")
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def parse_size(text: str) -> int | None:
    """'10GiB', '500 MB', '1024' -> bytes; None when it is not a size."""
    number = text.strip().rstrip("bBiIkKmMgGtT ").strip()
    unit = text.strip()[len(number):].strip().lower()
    try:
        value = float(number)
    except ValueError:
        return None
    return int(value * _UNITS[unit]) if unit in _UNITS and value >= 0 else None


@dataclass(frozen=True)
class Workspace:
    root: str  # absolute path of the directory holding workspace.yaml
    file: str
    components: tuple[Component, ...]
    tools: tuple[ToolPin, ...] = ()
    tool_lines: tuple[tuple[str, int], ...] = ()  # tool name -> line in workspace.yaml
    cache: CacheSettings = CacheSettings()
    go: str = ""  # the Go release every Go action runs with, and tools are built with ("" = the machine's)
    registries: tuple = ()  # (host, {"insecure": bool}) from workspace.yaml `registries:`
    dev_prefix: str = ""  # publish.dev_prefix: where development versions are published ("" = the repositories)

    def tool(self, name: str, component: str = "") -> ToolPin | None:
        """The pin of tool `name`: the component's own, else the workspace's."""
        for pins in (self.component(component).tools if component else (), self.tools):
            found = next((t for t in pins if t.name == name), None)
            if found:
                return found
        return None

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def go_for(self, component: str) -> str:
        return self.component(component).go or self.go

    @property
    def all_tools(self) -> tuple[ToolPin, ...]:
        """Every pin, the workspace's and the components' own."""
        return self.tools + tuple(t for c in self.components for t in c.tools)


@dataclass(frozen=True)
class Target:
    """A validated BUILD.yaml entry: common fields resolved, rule fields in `attrs`."""

    label: Label
    rule: str
    component_dir: str  # workspace-relative
    file: str
    line: int
    attrs: dict[str, Any]
    attr_lines: dict[str, int]
    doc: str = ""

    def line_of(self, attr: str, index: int | None = None) -> int:
        """Line of a field, or of item `index` of a list field."""
        if index is not None and f"{attr}[{index}]" in self.attr_lines:
            return self.attr_lines[f"{attr}[{index}]"]
        return self.attr_lines.get(attr, self.line)

    def path(self, relative: str) -> str:
        """A component-relative path as a workspace-relative one."""
        return in_component(self.component_dir, relative)


@dataclass(frozen=True)
class FormatStep:
    """A pinned tool run over an action's outputs inside its sandbox, after the command: its argv,
    then the outputs' paths (relative to the action's directory) that `pattern` matches."""

    tool: ToolPin
    args: tuple[str, ...]
    pattern: str = ""  # a regular expression over workspace paths; "" = every output

    def material(self) -> list:
        return [str(self.tool), list(self.args), self.pattern]


@dataclass(frozen=True)
class ActionSpec:
    """One sealed step: what runs (argv, or an in-process builtin with argv as its arguments),
    where (cwd inside the execution root), with which environment and tools, reading exactly
    `inputs` and producing exactly `outputs`. Paths are pairs (path in the execution root,
    path in the workspace), so a rule can lay files out differently for a tool."""

    mnemonic: str
    description: str
    argv: tuple[str, ...]
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]
    cwd: str = "."
    env: tuple[tuple[str, str], ...] = ()
    tools: tuple[ToolPin, ...] = ()  # their directories go first on PATH
    builtin: str = ""
    output_dirs: tuple[tuple[str, str], ...] = ()  # owned directories: replaced whole, stale files go
    stdout: str = ""  # exec path that receives the command's standard output (a declared output)
    toolchain: str = ""  # "go": the Go toolchain and the machine's module settings are provided
    input_dirs: tuple[tuple[str, str], ...] = ()  # whole directories read (an earlier action's owned output)
    prepare: tuple[tuple[str, tuple[str, ...]], ...] = ()  # builtins run in the sandbox before the command
    format: tuple[FormatStep, ...] = ()  # run over the outputs after the command
    go_version: str = ""  # the Go release it runs with (PATH, GOROOT); "" = the machine's Go
    dir_marker: str = ""  # a regular expression: a file in an owned directory holding it is the generator's
    network: bool = False  # a fetch: the only kind of action that reaches the network; never cached

    @property
    def all_tools(self) -> tuple[ToolPin, ...]:
        """The pinned tools it runs: its own, then its formatting steps'."""
        if not self.format:
            return self.tools
        return tuple(dict.fromkeys(self.tools + tuple(step.tool for step in self.format)))

    def key_material(self) -> dict[str, Any]:
        """Everything that can change the outputs, except input contents (hashed separately)."""
        return {
            "mnemonic": self.mnemonic,
            "argv": list(self.argv),
            "builtin": self.builtin,
            "cwd": self.cwd,
            "env": [list(pair) for pair in self.env],
            "tools": [str(tool) for tool in self.tools] + [str(step.tool) for step in self.format],
            "toolchain": self.toolchain + (f"@{self.go_version}" if self.go_version else ""),
            "prepare": [[name, list(args)] for name, args in self.prepare],
            "format": [step.material() for step in self.format],
            "network": self.network,
            "stdout": self.stdout,
            "inputs": [list(pair) for pair in self.inputs + self.input_dirs],
            "outputs": [list(pair) for pair in self.outputs + self.output_dirs],
        }


@dataclass(frozen=True)
class TargetPlan:
    """A target after planning: what doit schedules and the executor runs."""

    target: Target
    rule_version: int
    actions: tuple[ActionSpec, ...]
    inputs: tuple[str, ...]  # workspace paths read (doit file_dep)
    outputs: tuple[str, ...]  # workspace paths written (doit targets)
    deps: tuple[Label, ...]  # targets that must run first
    output_dirs: tuple[str, ...] = ()  # directories the target owns (doit targets too)
    generated: bool = True  # outputs are derived files committed to git (`doit generate`)
    parts: dict[str, str] = field(default_factory=dict)  # part name -> digest, to explain rebuilds

    @property
    def label(self) -> Label:
        return self.target.label

    @cached_property
    def digest(self) -> str:
        """Computed once, and kept in the plan cache with the plan: the no-op path only compares it."""
        return digest_of(self.parts)


@dataclass(frozen=True)
class BuildGraph:
    """The planned workspace: what doit schedules."""

    workspace: Workspace
    plans: dict[str, TargetPlan]  # by task name (`component:target`), dependencies first
    watched: tuple[str, ...] = ()  # files and directories the plan was made from (for the plan cache)
    artifacts: tuple = ()  # versioning.declare.Artifact, in declaration order
    references: tuple = ()  # versioning.declare.Reference
    memo: PlanMemo | None = field(default=None, compare=False, repr=False)  # for re-planning what an edit touches


@dataclass(frozen=True)
class PlanMemo:
    """What the planner learnt per component, so that an edit re-plans only what it touches
    (loader.replan): each component's BUILD.yaml as parsed, each target's claimed outputs (path and
    attribute, in order), and the files and directories each component's plans were made from."""

    sources: dict[str, tuple]  # component -> (targets, artifacts, references) of its BUILD.yaml
    claims: dict[str, tuple[tuple[str, str], ...]]  # task -> ((output path, attribute), ...)
    watched_by: dict[str, tuple[str, ...]]  # component -> watched paths its targets' plans read


def action_parts(actions, toolchain=()) -> dict[str, str]:
    """Digests of what a list of actions does, by part: the command (argv, builtin, cwd, env...), the
    tools, and the sandbox layout. Plans (to decide rebuilds) and action keys (for the cache) both
    use them, so both explain a change the same way."""
    materials = [action.key_material() for action in actions]
    return {
        "command": digest_of([{k: v for k, v in m.items() if k not in ("inputs", "outputs", "tools")}
                              for m in materials]),
        "tools": digest_of([m["tools"] for m in materials] + list(toolchain)),
        "layout": digest_of([[m["inputs"], m["outputs"]] for m in materials]),
    }


def dir_manifest(directory: str) -> str:
    """The file listing an owned directory's contents (name and SHA-256 per file), written by the
    executor whenever the directory is committed: what readers of the directory depend on."""
    return f".ksbuild/dirs/{directory}.files"


SCRATCH = "_ksbuild"  # a directory an action's own steps write scratch files in: never an output, never reported
OUT_PREFIX = "$out/"  # a rule's declared output under it is a build product: .ksbuild/out/COMPONENT/...


def out_dir(component: str, relative: str) -> str:
    """Where a component's build products go (never committed): .ksbuild/out/COMPONENT/RELATIVE."""
    return f".ksbuild/out/{component}/{relative}"


IMAGE_RULES = ("go_image", "docker_image")  # rules whose target is an image layout (`doit push`, `doit load`)
FETCH_RULE = "go_modules"  # the rule of the targets that fetch Go modules (rules.gofetch): scheduled, not counted
FETCHED_DIR = ".ksbuild/src"  # where a component from another repository, NAME, is checked out: FETCHED_DIR/NAME


def in_component(component_dir: str, relative: str) -> str:
    """A component-relative path as a workspace-relative one (a component at `.` is the workspace)."""
    return f"{component_dir}/{relative}" if component_dir not in ("", ".") else relative


def digest_of(value: Any) -> str:
    """SHA-256 of a canonical JSON encoding."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
