"""From a repository to a Plan: the component, its targets, the tools they run and the Go release."""
from __future__ import annotations

import re

from ksbuild.init import charts, crds, golang, gomod, goversion, gosource, project, scripts, tools
from ksbuild.init.plan import Plan
from ksbuild.init.report import Report
from ksbuild.init.repo import Repo
from ksbuild.loader.workspace import NAME_PATTERN, RESERVED_NAMES

ORDER = ("go_deepcopy", "crd", "go_clients", "kustomize_build", "helm_templates")


class CannotInit(Exception):
    """Nothing sensible can be written: what is missing, and what to do."""


def infer(root: str, report: Report) -> Plan:
    repo = Repo(root)
    mod = _go_mod(repo)
    plan = Plan(component=component_name(mod.module, report), module=mod.module)
    report.inferred(f"component {plan.component} at path .", f"go.mod:{mod.module_line}, module {mod.module}")
    if not repo.in_git:
        report.note("not a git work tree: the files on disk stand for what is committed")
    packages = gosource.scan(repo)
    found = scripts.read(repo)
    evidence: dict[str, tuple[str, str]] = {}
    chart_report = Report()  # renderings go first (a chart's CRD file is theirs, not a CRD stream's), reported last
    charts.add_rendering_targets(repo, plan, chart_report)
    for target in (golang.deepcopy_target(repo, packages, found, report),
                   crds.crd_target(repo, packages, found, plan, report, evidence),
                   golang.clients_target(repo, mod, packages, found, report)):
        if target:
            plan.targets.append(target)
    plan.targets.sort(key=lambda t: ORDER.index(t.rule))
    report.lines += chart_report.lines
    project.check(repo, mod.module, packages, {c.group for c in crds.find_crds(repo)}, report)
    if not plan.targets:
        raise CannotInit("no committed derived file that ksbuild's rules make was found (zz_generated.deepcopy.go, "
                         "CRDs made by controller-gen, client-gen clients, a chart template rendered by kustomize): "
                         "write BUILD.yaml by hand (README: \"A kubebuilder repository\")")
    plan.go = goversion.choose(mod, report)
    needed = {tool for target in plan.targets for tool in target.tools}
    plan.tools = tools.choose(needed, found, mod, evidence, report)
    _mains(repo, packages, report)
    return plan


def _go_mod(repo: Repo) -> gomod.GoMod:
    text = repo.text("go.mod")
    if text is None:
        raise CannotInit(f"no go.mod in {repo.root}: run `ksbuild init` in the root of a Go module")
    parsed = gomod.parse(text)
    if parsed is None:
        raise CannotInit("go.mod has no `module` line: fix go.mod (`go mod init MODULE`), then run init again")
    return parsed


def component_name(module: str, report: Report) -> str:
    """The module path's last element (before a /vN major suffix), made a valid component name."""
    parts = module.split("/")
    last = parts[-2] if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]) else parts[-1]
    name = re.sub(r"[^a-z0-9._-]+", "-", last.lower()).strip("-._") or "component"
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        report.note(f"{name!r} is a name ksbuild keeps for itself: the component is {name}-component")
        name = f"{name}-component"
    return name


def _mains(repo: Repo, packages, report: Report) -> None:
    mains = sorted(d for d, p in packages.items() if any(
        re.search(r"^package main\b", repo.text(f) or "", re.M) for f in p.files))
    hint = f" (main packages: {', '.join(mains)})" if mains else ""
    report.missing(f"images and charts to publish, and version references{hint}",
                   "declare `artifacts:`, `go_image`/`helm_chart` targets and `references:` by hand (README: "
                   "\"Images, and publishing them\")")
