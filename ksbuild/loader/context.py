"""The PlanContext that rules see while planning: tool pins, Go modules, scratch paths, problems."""
from __future__ import annotations

import os

from ksbuild.model import FormatStep, Target, ToolPin
from ksbuild.rules import GoModule


class LoaderContext:
    """The PlanContext rules see: tool pins, Go modules, scratch paths and problem reports."""

    def __init__(self, planner):
        self.planner = planner
        self.modules: dict[str, GoModule | None] = {}
        self._go: dict[str, list[str]] = {}

    def tool(self, target: Target, name: str, attr: str = "rule") -> ToolPin:
        """The pin serving tool `name` for the target: the one `tool_pins` names, the component's own,
        or the workspace's."""
        chosen = target.attrs.get("tool_pins", {}).get(name, name)
        if chosen != name:
            attr = "tool_pins"
        pin = self.planner.workspace.tool(chosen, target.label.component)
        if pin is None:
            what = f"tool {chosen!r}" + (f" (for {name!r})" if chosen != name else "")
            self.problem(target, attr, f"{target.rule} needs {what}, which workspace.yaml does not pin",
                         "Add it under `tools:` in workspace.yaml (or the component's `tools:`) with its Go "
                         "package and an exact version.")
            return ToolPin(chosen, "unpinned", "v0.0.0")
        return pin

    def finish(self, target: Target, marker: str, actions):
        """What every rule's actions get alike: the target's formatting steps, the Go release the
        component's Go actions run with, and the owned directories' generator marker."""
        from dataclasses import replace

        steps = self.format_steps(target)
        go = self.planner.workspace.go_for(target.label.component)
        finished = []
        for action in actions:
            changes = {}
            if steps and (action.outputs or action.output_dirs):
                changes["format"] = steps
            if go and (action.toolchain == "go" or action.tools or steps):
                changes["go_version"] = go
            if marker and action.output_dirs:
                changes["dir_marker"] = marker
            finished.append(replace(action, **changes) if changes else action)
        return tuple(finished)

    def format_steps(self, target: Target) -> tuple[FormatStep, ...]:
        from ksbuild.loader.globs import glob_regex

        steps = []
        for index, step in enumerate(target.attrs.get("format", ())):
            tool = self.tool(target, step["tool"], "format")
            pattern = glob_regex(target.path(step["files"])).pattern if "files" in step else ""
            steps.append(FormatStep(tool, tuple(step.get("args", ())), pattern))
        return tuple(steps)

    def find_go_module(self, target: Target) -> GoModule | None:
        """The component's Go module, or None (reported when a rule plans with `go_module`)."""
        directory = target.component_dir
        if directory not in self.modules:
            go_mod = f"{directory}/go.mod" if directory not in ("", ".") else "go.mod"
            self.planner.watched.add(go_mod)
            self.modules[directory] = module_path(os.path.join(self.planner.root, go_mod), directory)
        return self.modules[directory]

    def go_module(self, target: Target) -> GoModule:
        module = self.find_go_module(target)
        directory = target.component_dir
        if module is None:
            self.problem(target, "rule", f"rule {target.rule!r} needs a Go module, and {directory}/go.mod has "
                         "no `module` line or does not exist", "Create go.mod at the component's root.")
            return GoModule("invalid.module", directory)
        return module

    def image_artifact(self, target: Target, label: str):
        from ksbuild.versioning.declare import resolve_label

        artifact = self.planner.artifacts.get(resolve_label(label, target.label.component))
        if artifact is None or artifact.kind != "image" or artifact.external:
            known = ", ".join(str(a.label) for a in self.planner.artifacts.values()
                              if a.kind == "image" and not a.external) or "none"
            self.problem(target, "artifact", f"artifact {label!r} is not an image artifact of this workspace",
                         f"Declare it under `artifacts:` with `kind: image` (declared: {known}).")
            return None
        return artifact

    def chart_artifact(self, target: Target, label: str):
        from ksbuild.versioning.declare import resolve_label

        artifact = self.planner.artifacts.get(resolve_label(label, target.label.component))
        if artifact is None or artifact.kind != "chart" or artifact.external or not artifact.chart:
            known = ", ".join(str(a.label) for a in self.planner.artifacts.values()
                              if a.kind == "chart" and not a.external) or "none"
            self.problem(target, "artifact", f"artifact {label!r} is not a chart artifact of this workspace with a "
                         "`chart:` directory", f"Declare it under `artifacts:` with `kind: chart` and `chart: DIR` "
                         f"(declared: {known}).")
            return None
        return artifact

    def chart_stamps(self, target: Target, chart) -> dict[str, list[dict]]:
        from dataclasses import replace

        from ksbuild.versioning.declare import resolve_label
        from ksbuild.versioning.plan import ref_spec

        found: dict[str, list[dict]] = {}
        for ref in self.planner.references:
            label = resolve_label(ref.artifact, ref.component)
            if ref.policy == "stamp" and ref.path.startswith(chart.chart + "/") and label in self.planner.artifacts:
                resolved = replace(ref, artifact=str(label))
                found.setdefault(ref.path, []).append(ref_spec(resolved, self.planner.artifacts,
                                                               self.planner.workspace.dev_prefix))
        return found

    def chart_dependencies(self, target: Target, chart) -> list[dict]:
        from ksbuild.charts.deps import locked_digest, oci_dependencies
        from ksbuild.charts.package import ChartError
        from ksbuild.loader.lockfile import LOCK_FILE

        chart_yaml = f"{chart.chart}/Chart.yaml"
        text = self.read_text(target, chart_yaml)
        self.planner.watched.add(LOCK_FILE)
        found = []
        try:
            for dep in oci_dependencies(text or "", chart_yaml):
                insecure = dep.registry in self.insecure_registries()
                found.append({"name": dep.name, "version": dep.version, "registry": dep.registry, "path": dep.path,
                              "insecure": insecure, "digest": locked_digest(self.planner.root, dep, insecure)})
        except ChartError as err:
            self.problem(target, "artifact", str(err), "Fix the chart's dependencies (see the message).")
        return found

    def image_targets(self, target: Target, chart) -> dict:
        from ksbuild.model import IMAGE_RULES
        from ksbuild.versioning.declare import resolve_label

        named = {resolve_label(chart.image, chart.label.component)} if chart.image else set()
        named |= {resolve_label(ref.artifact, ref.component) for ref in self.planner.references
                  if ref.policy == "stamp" and ref.form == "image" and ref.path.startswith(chart.chart + "/")}
        found = {}
        for other in self.planner.targets.values():
            if other.rule in IMAGE_RULES and isinstance(other.attrs.get("artifact"), str):
                label = resolve_label(other.attrs["artifact"], other.label.component)
                if label in named:
                    found[str(label)] = other.label
        return dict(sorted(found.items()))

    def read_text(self, target: Target, path: str) -> str | None:
        self.planner.watched.add(path)
        try:
            with open(os.path.join(self.planner.root, path), encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as err:
            self.problem(target, "rule", f"cannot read {path}: {getattr(err, 'strerror', None) or err}",
                         "Create the file, or fix the path that names it.")
            return None

    def problem_at(self, target: Target, file: str, line: int, message: str, hint: str) -> None:
        self.planner.problems.add(file, line, message, hint)

    def insecure_registries(self) -> set[str]:
        return {host for host, settings in self.planner.workspace.registries if settings.get("insecure")}

    def version_file(self, component: str) -> str:
        from ksbuild.versioning.gitversions import version_file

        return version_file(component)

    def image(self, target: Target, value: str) -> str:
        if not value.startswith((":", "//")):
            return value
        from ksbuild.versioning.declare import PLACEHOLDER, resolve_label
        from ksbuild.versioning.render import render

        label = resolve_label(value, target.label.component)
        artifact = self.planner.artifacts.get(label)
        if artifact is None or artifact.kind != "image":
            known = ", ".join(str(a.label) for a in self.planner.artifacts.values() if a.kind == "image") or "none"
            self.problem(target, "images", f"images: {value!r} is not a declared image artifact",
                         f"Name an image under some component's `artifacts:` (declared: {known}), or write a fixed "
                         "repo:tag.")
            return value
        return render("image", artifact, PLACEHOLDER)

    def scratch(self, target: Target, name: str) -> str:
        return f".ksbuild/work/{target.label.component}/{target.label.target}/{name}"

    def problem(self, target: Target, attr: str, message: str, hint: str) -> None:
        self.planner.problems.add(target.file, target.line_of(attr), f"{target.label}: {message}", hint)

    def toolchain_identity(self, actions) -> list[str]:
        """Go's version and platform, for actions that use Go or Go-installed tools."""
        versions = sorted({a.go_version for a in actions if a.tools or a.format or a.toolchain == "go"})
        return [part for version in versions for part in self._go_identity(version)]

    def _go_identity(self, version: str) -> list[str]:
        if version not in self._go:
            from ksbuild.toolchain.goenv import GoMissing, go_env

            try:
                go = go_env(version)
                self.planner.watched.add(go.go)
                self._go[version] = go.identity
            except GoMissing as err:
                self._go[version] = [f"go-missing {version}: {err}"]
        return self._go[version]


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
