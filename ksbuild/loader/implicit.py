"""Inputs nobody lists, found when the workspace loads: the Go files of the packages a rule names and
of every package of the same module they import, every file a kustomization reads, and the files an
action names itself (version files). The finders take the planner (for producers, problems and what
the plan cache must watch) and a target."""
from __future__ import annotations

import os
import posixpath
import re

from ksbuild.model import Target
from ksbuild.rules import RULES


def go_package_files(planner, target: Target) -> list[str]:
    """The Go files of the packages the rule names and of every package of the same module they
    import, transitively (read from import declarations, as Gazelle does)."""
    packages = RULES[target.rule].go_packages(target)
    if not packages:
        return []
    from ksbuild.loader.goimports import same_module_packages

    module = planner.context.find_go_module(target)
    if module is None:
        return []  # reported when the rule plans
    prefix = target.path("")

    def relative(paths):
        return [p[len(prefix):] for p in paths if p.startswith(prefix) or not prefix]

    own = set(planner.outputs.get(target.label, ()))
    go_outputs = [p for p in planner.owner if p.endswith(".go") and p not in own]
    owned = [p.rstrip("/") for p in planner.owner if p.endswith("/") and p not in own]
    scan = same_module_packages(os.path.join(planner.root, target.component_dir), module.path, packages,
                                generated_files=relative(go_outputs), owned=relative(owned),
                                skip_files=relative(own))
    line = target.line_of("packages")
    for entry in scan.not_found:
        planner.problems.add(target.file, line, f"{target.label}: packages: {entry!r} is no Go package directory "
                          "of the module", f"Name a directory below {target.component_dir or '.'} that holds "
                          ".go files (relative to go.mod).")
    for import_path, file, import_line in scan.missing:
        planner.problems.add(target.path(file), import_line, f"import {import_path!r}: no such package in module "
                          f"{module.path}", f"Create {target.path(import_path[len(module.path) + 1:])} or fix "
                          f"the import (read because {target.label} generates code for a package that needs it).")
    for file, file_line, message in scan.errors:
        planner.problems.add(target.path(file), file_line, message, "Fix the Go file: it must be UTF-8 Go source.")
    planner.watched.update(target.path(p) for p in scan.scanned + scan.listed)
    files = list(scan.files)
    if scan.generated:  # packages another target generates import packages too: read them as committed
        below = same_module_packages(os.path.join(planner.root, target.component_dir), module.path,
                                     [f"{d}/..." for d in scan.generated], generated_files=relative(go_outputs),
                                     skip_files=relative(own))
        planner.watched.update(target.path(p) for p in below.scanned + below.listed)
        inside = tuple(d + "/" for d in scan.generated)
        files += [p for p in below.files if not p.startswith(inside)]
    found = [target.path(p) for p in dict.fromkeys(files)] + [target.path(d) + "/" for d in scan.generated]
    return found + embedded_files(planner, target, found)


EMBED = re.compile(r"^//go:embed\s+(.+)$", re.M)


def embedded_files(planner, target: Target, go_files: list[str]) -> list[str]:
    """Files that `//go:embed` patterns in the Go files name (another target's outputs included)."""
    found = []
    for path in go_files:
        if path.endswith("/") or not os.path.isfile(os.path.join(planner.root, path)):
            continue
        with open(os.path.join(planner.root, path), "rb") as handle:
            data = handle.read()
        if b"go:embed" not in data:
            continue
        for line in EMBED.findall(data.decode("utf-8", "replace")):
            for pattern in line.split():
                pattern = pattern.strip('"`').removeprefix("all:")
                if pattern and not pattern.startswith(("/", "..")):
                    found += planner.glob_paths(posixpath.join(posixpath.dirname(path), pattern))
    return found

def kustomized_files(planner, target: Target) -> list[str]:
    """Every file the rule's kustomizations read, followed from kustomization.yaml at load time."""
    directories = RULES[target.rule].kustomizations(target)
    if not directories:
        return []
    from ksbuild.loader.kustomization import kustomization_inputs

    found = []
    for directory, attr in directories:
        scan = kustomization_inputs(planner.root, target.path(posixpath.normpath(directory)), planner.will_exist,
                                    named_at=(target.file, target.line_of(attr)))
        planner.problems.items.extend(scan.problems)
        planner.watched.update(scan.watched)
        found += list(scan.files) + [d + "/" for d in scan.dirs]
    return found


def action_only_inputs(actions, known) -> tuple[str, ...]:
    """Workspace files an action reads that are no srcs and no earlier action's output: the version
    files a rule names itself. doit must see them too, or a new version would not rerun the target."""
    made = {path for action in actions for _, path in action.outputs}
    made_dirs = tuple(path + "/" for action in actions for _, path in action.output_dirs)
    seen = set(known)
    extra = []
    for action in actions:
        for _, path in action.inputs:
            if path not in seen and path not in made and not path.startswith(made_dirs):
                seen.add(path)
                extra.append(path)
    return tuple(extra)
