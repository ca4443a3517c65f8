"""Committed files that are a kustomization rendered: a chart's template (`make chart`), as
`kustomize_build` (its CRDs split into the chart's crds/ file when they are there) or `helm_templates`
(when the cluster-scoped RBAC names carry a Helm prefix); and, outside charts and config/, a bundle
such as kubebuilder's dist/install.yaml (`make build-installer`). A file is recognised by its objects:
each is one of the kustomization's, by kind and by name (kustomize only adds prefixes), and none is
left over on either side."""
from __future__ import annotations

import posixpath
import re

from ksbuild.init import kustomize
from ksbuild.init.plan import Plan, Target
from ksbuild.init.report import Report
from ksbuild.init.repo import Repo, name_of

CRD = "CustomResourceDefinition"
PREFIXED_KINDS = ("ClusterRole", "ClusterRoleBinding")  # what helm_templates prefixes
DEFAULT_PREFIX = "{{.Values.ControlPlaneName}}-"
_HELM_PREFIX = re.compile(r"^(.*\}\}-?)")


class _Renderings:
    """Each kustomization of the repository, read once."""

    def __init__(self, repo: Repo):
        self.repo = repo
        self.dirs = kustomize.kustomization_dirs(repo)
        self._read: dict[str, kustomize.Rendering | None] = {}

    def __iter__(self):
        for directory in self.dirs:
            if directory not in self._read:
                self._read[directory] = kustomize.read(self.repo, directory)
            if self._read[directory] is not None:
                yield self._read[directory]


def add_rendering_targets(repo: Repo, plan: Plan, report: Report) -> None:
    renderings = _Renderings(repo)
    charts = sorted(posixpath.dirname(p) for p in repo.named("Chart.yaml"))
    for chart in charts:
        templates = [p for p in repo.under(posixpath.join(chart, "templates")) if p.endswith((".yaml", ".yml"))]
        if not sum(_add(repo, path, renderings, plan, report, chart) for path in templates):
            report.missing(f"the chart {chart or '.'}", "none of its templates is a rendering of a kustomization "
                           "here: add a kustomize_build or helm_templates target by hand if one is")
    inside = tuple(d + "/" for d in renderings.dirs) + tuple((c + "/" if c else "") for c in charts)
    for path in repo.files:
        if path.endswith((".yaml", ".yml")) and not path.startswith(inside) and not plan.claimed(path) \
                and "kind:" in (repo.text(path) or ""):
            _add(repo, path, renderings, plan, report, None)


def _add(repo: Repo, path: str, renderings: _Renderings, plan: Plan, report: Report, chart: str | None) -> bool:
    docs = repo.yaml_docs(path)
    if not docs or not all(isinstance(d, dict) and d.get("kind") and isinstance(d.get("metadata"), dict)
                           for d in docs):
        return False  # a Helm template proper, or not objects: written by hand
    for rendering in renderings:
        target = _target(repo, path, docs, rendering, plan, report, chart)
        if target:
            plan.targets.append(target)  # its outputs are claimed from now on
            return True
    return False


def _target(repo: Repo, path: str, docs: list[dict], rendering: kustomize.Rendering, plan: Plan, report: Report,
            chart: str | None) -> Target | None:
    crds = {r.name for r in rendering.resources if r.kind == CRD}
    in_file = {name_of(d) for d in docs if d.get("kind") == CRD}
    theirs = [d for d in docs if d.get("kind") != CRD]
    pairs = _pairs(theirs, [r for r in rendering.resources if r.kind != CRD])
    if not pairs:
        return None
    crds_out = ""
    if in_file != crds:
        if in_file or chart is None:
            return None
        crds_out = _crds_file(repo, chart, crds, plan)
        if not crds_out:
            return None
    prefix = _helm_prefix(theirs) if chart is not None else None
    if prefix is not None and crds_out:
        report.missing(path, f"it is {rendering.directory} with Helm-prefixed RBAC names, but its CRDs are in "
                       f"{crds_out}, which helm_templates does not split: add targets by hand")
        return None
    images = _images(pairs, rendering)
    if images is None:
        return None
    if prefix is not None:
        fields = {"kustomize_dir": rendering.directory, "out": path} | (
            {"name_prefix": prefix} if prefix != DEFAULT_PREFIX else {})
        rule, name, why = "helm_templates", "chart-templates", "make chart: kustomize build, RBAC names prefixed"
    else:
        fields = {"dir": rendering.directory, "out": path} | ({"crds_out": crds_out} if crds_out else {})
        rule, name = "kustomize_build", "chart" if chart is not None else _name(path)
        why = "make chart: kustomize build" + (", CRDs split" if crds_out else "") if chart is not None \
            else "kustomize build"
    if images:
        fields["images"] = images
    outputs = (path, crds_out) if crds_out else (path,)
    target = Target(plan.unique_name(name), rule, fields, why, ("kustomize",), outputs)
    report.inferred(f"target {target.name}: {rule} of {rendering.directory} into {path}"
                    + (f" and {crds_out}" if crds_out else "") + (f", name_prefix {prefix}" if prefix else ""),
                    f"{path}, whose objects are those of {rendering.directory}")
    for image_name, image in images.items():
        said = kustomize.set_image(image_name, rendering.images)
        report.inferred(f"images: {image_name} -> {image}",
                        f"{path}, where the kustomization under {rendering.directory} says {said}")
        report.note(f"{image} is written as a fixed image: declare an image artifact and name it (`{image_name}: "
                    "\":ARTIFACT\"`) to have its version stamped (artifacts are not inferred)")
    return target


def _name(path: str) -> str:
    stem = posixpath.splitext(posixpath.basename(path))[0].lower()
    return re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._") or "manifests"


def _pairs(docs: list[dict], resources: list[kustomize.Resource]) -> list[tuple[dict, kustomize.Resource]]:
    """Each document with the resource it renders (same kind, its name plus a prefix); empty when one
    is left over on either side."""
    if len(docs) != len(resources):
        return []
    left = list(resources)
    pairs = []
    for doc in docs:
        name = name_of(doc)
        match = next((r for r in left if r.kind == doc.get("kind") and r.name
                      and (r.name in name if r.generated else name.endswith(r.name))), None)
        if match is None:
            return []
        left.remove(match)
        pairs.append((doc, match))
    return pairs


def _crds_file(repo: Repo, chart: str, crds: set[str], plan: Plan) -> str:
    """The one file in the chart's crds/ holding exactly the kustomization's CRDs."""
    for path in repo.under(posixpath.join(chart, "crds")):
        if path.endswith((".yaml", ".yml")) and not plan.claimed(path):
            docs = repo.yaml_docs(path) or []
            names = [name_of(d) for d in docs if isinstance(d, dict) and d.get("kind") == CRD]
            if len(names) == len(docs) == len(crds) and set(names) == crds:
                return path
    return ""


def _helm_prefix(docs: list[dict]) -> str | None:
    """The Helm expression the cluster-scoped RBAC names start with (helm_templates' `name_prefix`), or None."""
    prefixes = set()
    for doc in docs:
        if doc.get("kind") in PREFIXED_KINDS:
            name = name_of(doc)
            match = _HELM_PREFIX.match(name) if name.startswith("{{") else None
            prefixes.add(match.group(1) if match else None)
    return prefixes.pop() if len(prefixes) == 1 else None


def _images(pairs, rendering: kustomize.Rendering) -> dict[str, str] | None:
    """The images to set (the target's `images:`) so that the rendering names what the committed file
    names; None when no setting can."""
    wanted: dict[str, str] = {}
    for doc, resource in pairs:
        committed, source = kustomize.containers(doc), kustomize.containers(resource.doc)
        if set(committed) != set(source):
            return None
        for container, original in source.items():
            if committed[container] == kustomize.set_image(original, rendering.images):
                continue
            name = kustomize.image_name(original)
            if wanted.setdefault(name, committed[container]) != committed[container]:
                return None
    return dict(sorted(wanted.items()))
