"""The PlanContext that rules see while planning: tool pins, Go modules, scratch paths, problems."""
from __future__ import annotations

import os

from ksbuild.model import Target, ToolPin
from ksbuild.rules import GoModule


class LoaderContext:
    """The PlanContext rules see: tool pins, Go modules, scratch paths and problem reports."""

    def __init__(self, planner):
        self.planner = planner
        self.modules: dict[str, GoModule | None] = {}
        self._go = None

    def tool(self, target: Target, name: str) -> ToolPin:
        pin = self.planner.workspace.tool(name)
        if pin is None:
            self.problem(target, "rule", f"rule {target.rule!r} needs tool {name!r}, which workspace.yaml does not pin",
                         "Add it under `tools:` in workspace.yaml with its Go package and an exact version.")
            return ToolPin(name, "unpinned", "v0.0.0")
        return pin

    def go_module(self, target: Target) -> GoModule:
        directory = target.component_dir
        if directory not in self.modules:
            go_mod = f"{directory}/go.mod" if directory not in ("", ".") else "go.mod"
            self.planner.watched.add(go_mod)
            self.modules[directory] = module_path(os.path.join(self.planner.root, go_mod), directory)
        module = self.modules[directory]
        if module is None:
            self.problem(target, "rule", f"rule {target.rule!r} needs a Go module, and {directory}/go.mod has "
                         "no `module` line or does not exist", "Create go.mod at the component's root.")
            return GoModule("invalid.module", directory)
        return module

    def scratch(self, target: Target, name: str) -> str:
        return f".ksbuild/work/{target.label.component}/{target.label.target}/{name}"

    def problem(self, target: Target, attr: str, message: str, hint: str) -> None:
        self.planner.problems.add(target.file, target.line_of(attr), f"{target.label}: {message}", hint)

    def toolchain_identity(self, actions) -> list[str]:
        """Go's version and platform, for actions that use Go or Go-installed tools."""
        if not any(a.tools or a.toolchain == "go" for a in actions):
            return []
        if self._go is None:
            from ksbuild.toolchain.goenv import GoMissing, go_env

            try:
                go = go_env()
                self.planner.watched.add(go.go)
                self._go = go.identity
            except GoMissing:
                self._go = ["go-missing"]
        return self._go


def module_path(go_mod: str, directory: str) -> GoModule | None:
    try:
        with open(go_mod, encoding="utf-8") as handle:
            for line in handle:
                words = line.split()
                if len(words) >= 2 and words[0] == "module":
                    return GoModule(words[1].strip('"'), directory)
    except OSError:
        return None
    return None
