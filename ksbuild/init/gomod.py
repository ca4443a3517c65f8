"""go.mod: the module path, the Go release it asks for, and the versions it requires."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^(module|go|toolchain)\s+(\S+)")
_REQUIRE = re.compile(r"^(?:require\s+)?([^\s()]+)\s+(v\S+)")


@dataclass(frozen=True)
class GoMod:
    module: str
    go: str = ""  # the `go` line, e.g. 1.26.0
    toolchain: str = ""  # the `toolchain` line without `go`, e.g. 1.26.8
    requires: dict[str, tuple[str, int]] = field(default_factory=dict)  # module -> (version, line)
    module_line: int = 0
    go_line: int = 0


def parse(text: str) -> GoMod | None:
    """The go.mod's facts; None when it names no module."""
    found: dict[str, tuple[str, int]] = {}
    requires: dict[str, tuple[str, int]] = {}
    in_require = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_require:
            if line == ")":
                in_require = False
            elif match := _REQUIRE.match(line):
                requires[match.group(1)] = (match.group(2), number)
            continue
        if line.startswith("require") and line.rstrip().endswith("("):
            in_require = True
        elif line.startswith("require ") and (match := _REQUIRE.match(line)):
            requires[match.group(1)] = (match.group(2), number)
        elif match := _DIRECTIVE.match(line):
            found.setdefault(match.group(1), (match.group(2).strip('"'), number))
    if "module" not in found:
        return None
    return GoMod(module=found["module"][0], go=found.get("go", ("", 0))[0],
                 toolchain=found.get("toolchain", ("", 0))[0].removeprefix("go"), requires=requires,
                 module_line=found["module"][1], go_line=found.get("go", ("", 0))[1])
