"""What init writes, as data: the targets of BUILD.yaml and the tools and Go release of workspace.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Target:
    name: str
    rule: str
    fields: dict  # field -> value, in the order they are written
    why: str  # one comment line: what it reproduces
    tools: tuple[str, ...] = ()  # the pinned tools it runs
    outputs: tuple[str, ...] = ()  # committed files (or directories, with '/') it produces


@dataclass
class Plan:
    component: str
    module: str
    go: str = ""
    targets: list[Target] = field(default_factory=list)
    tools: list = field(default_factory=list)  # tools.ToolPin

    def claimed(self, path: str) -> bool:
        """`path` is already an output of a planned target."""
        return any(path == out or (out.endswith("/") and path.startswith(out))
                   for target in self.targets for out in target.outputs)

    def unique_name(self, name: str) -> str:
        taken = {target.name for target in self.targets}
        candidate, number = name, 2
        while candidate in taken:
            candidate, number = f"{name}-{number}", number + 1
        return candidate
