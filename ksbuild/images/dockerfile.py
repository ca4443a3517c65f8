"""What a Dockerfile needs from its build: its ARGs, where they are used, and its FROM lines, read at
load time so that a build argument nobody passes (the kubectl image's `ARG VERSION`, which never
received the `--build-arg version=` its script sent) is a `file:line` error before anything runs."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_USE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
_ARG = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$")
PREDEFINED = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "TARGETPLATFORM", "TARGETOS",
                        "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"})
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    line: int
    image: str  # FROM's image, as written
    alias: str = ""
    args: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # name -> (default, line)
    uses: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, tuple[str | None, int]]
    stages: list[Stage]


def parse(text: str) -> Dockerfile:
    """Instructions with their first line, continuations joined, comments dropped."""
    global_args: dict[str, tuple[str | None, int]] = {}
    stages: list[Stage] = []
    for line, instruction, rest in _instructions(text):
        if instruction == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--")]
            image = words[0] if words else ""
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stage = Stage(line, image, alias)
            stage.uses = [(name, line) for name in _uses(image)]
            stages.append(stage)
        elif instruction == "ARG":
            for word in rest.split():
                match = _ARG.match(word)
                if match:
                    (stages[-1].args if stages else global_args)[match.group(1)] = (match.group(2), line)
        elif stages:
            stages[-1].uses += [(name, line) for name in _uses(rest)]
    return Dockerfile(global_args, stages)


def problems(dockerfile: Dockerfile, passed: set[str]) -> list[tuple[int, str, str]]:
    """(line, what is wrong, what to do): ARGs used without a value, passed arguments no ARG reads,
    and FROM lines that are not pinned by digest (or scratch, or an earlier stage)."""
    found = []
    declared = set(dockerfile.global_args)
    for stage in dockerfile.stages:
        declared |= set(stage.args)
        scope = {**{k: v for k, v in dockerfile.global_args.items() if k in stage.args}, **stage.args}
        for name, line in stage.uses:
            if name in PREDEFINED or name in passed:
                continue
            default = (scope.get(name) or dockerfile.global_args.get(name) or (None, 0))[0]
            if name in scope or name in dockerfile.global_args:
                if default in (None, ""):
                    found.append((line, f"ARG {name} is used but gets no value: no default, and the target "
                                        "passes none", f"Declare it under `build_args:` (or `version_arg: {name}`)."))
    for name in sorted(passed - declared):
        close = next((d for d in sorted(declared) if d.lower() == name.lower()), "")
        hint = f"Did you mean {close!r}? " if close else ""
        found.append((0, f"build argument {name!r} is not an ARG of the Dockerfile: it would be ignored",
                      f"{hint}Pass only arguments the Dockerfile declares (ARG names are case-sensitive)."))
    aliases: set[str] = set()
    for stage in dockerfile.stages:
        image = _substitute(stage.image, dockerfile.global_args)
        if image != "scratch" and image not in aliases and not DIGEST.search(image) and "$" not in image:
            found.append((stage.line, f"FROM {stage.image} is not pinned by digest",
                          "Name the image as REPOSITORY@sha256:<digest> (a tag can move), or build FROM scratch."))
        if stage.alias:
            aliases.add(stage.alias)
    return found


def _substitute(text: str, args: dict) -> str:
    return _USE.sub(lambda m: (args.get(m.group(1) or m.group(2)) or (None,))[0] or m.group(0), text)


def _uses(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _USE.finditer(text)]


def _instructions(text: str):
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            first = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        instruction, _, rest = whole.partition(" ")
        yield first, instruction.upper(), rest.strip()
