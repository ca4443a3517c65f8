"""What a release (or a development publish) pushes, and the checks made before anything is sent.

    plan = plan_publish(graph, versions, components, override)   # images first, then charts, then files
    problems = preflight(plan)   # tags that name other content, references nothing will satisfy

Every artifact of the chosen components that a target of this workspace builds is pushed: images
(their OCI layouts), then charts (their packages, which name the images). Each goes to the
repository its version says (`publish.dev_prefix` for a development version), under the registry
override when one is given, tagged as published (tag_prefix included).

The stamped files of those components that are not in a chart (PostCreateHooks, install scripts,
kustomizations naming images) are the release's files: written to the release directory with their
digests, in the manifest beside the artifacts whose versions they name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ksbuild.model import IMAGE_RULES, BuildGraph, Label
from ksbuild.publish import PublishError
from ksbuild.versioning.declare import Artifact, dev_repository, resolve_label, split_repository

CHART_RULE = "helm_chart"


@dataclass(frozen=True)
class Push:
    kind: str  # "image" or "chart"
    artifact: str  # its label, //component:name
    task: str  # the target that builds it
    source: str  # the image layout directory, or the chart package
    registry: str  # HOST[:PORT] it is pushed to
    repository: str  # the path within the registry
    tag: str
    version: str
    commit: str  # the commit its component's version names
    insecure: bool

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Requirement:
    """An artifact version a published file names: pushed by this run, or already in its registry."""

    artifact: str
    registry: str
    repository: str
    tag: str
    named_by: str  # file:line (or package) that names it
    insecure: bool

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class ReleaseFile:
    path: str  # the stamped output, workspace-relative
    name: str  # where it goes in the release directory: COMPONENT/RELATIVE
    refs: tuple[tuple[str, str], ...]  # (artifact, what the file names it as)


@dataclass
class PublishPlan:
    components: dict[str, object]  # name -> ComponentVersion
    pushes: list[Push] = field(default_factory=list)
    files: list[ReleaseFile] = field(default_factory=list)
    required: list[Requirement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # found while planning: nothing may be pushed
    chart_images: dict[str, str] = field(default_factory=dict)  # chart artifact -> its image's tag (appVersion)


def publish_targets(graph: BuildGraph, components) -> list[str]:
    """The tasks a publish of `components` builds first: image and chart targets of their artifacts,
    and their stamped files."""
    tasks = []
    for task, plan in graph.plans.items():
        artifact = _built_artifact(plan)
        if artifact is not None and artifact.component in components:
            tasks.append(task)
        elif plan.target.rule == "stamp" and plan.label.component in components:
            tasks.append(task)
    return tasks


def plan_publish(graph: BuildGraph, versions: dict, components, override: str = "") -> PublishPlan:
    """Every artifact of `components` that a target builds, and what their published files name."""
    artifacts = {str(a.label): a for a in graph.artifacts}
    plan = PublishPlan({name: versions[name] for name in sorted(components)})
    where = _where(graph, versions, override)
    built = _add_pushes(plan, graph, where, lambda task, label: label.component in components)
    for label, artifact in artifacts.items():
        if artifact.label.component in components and not artifact.external and label not in built:
            plan.problems.append(f"{label}: no target of this workspace builds it, so it cannot be published "
                                 f"(give it a {'go_image or docker_image' if artifact.kind == 'image' else 'helm_chart'}"
                                 " target)")
    _files_and_requirements(graph, plan, where, artifacts)
    return plan


def plan_target_pushes(graph: BuildGraph, versions: dict, wanted: list[str], override: str = "",
                       kinds=("image", "chart")) -> PublishPlan:
    """`doit push [TARGET...]`: the named image and chart targets (every one when none is named), at
    their versions now; no reference is checked (`doit release` does that)."""
    plan = PublishPlan({})
    unknown = set(wanted)

    def chosen(task, label):
        unknown.discard(task)
        return not wanted or task in wanted

    _add_pushes(plan, graph, _where(graph, versions, override), chosen, kinds)
    if unknown:
        raise PublishError(f"not {' or '.join(kinds)} targets: {', '.join(sorted(unknown))}")
    return plan


def _where(graph: BuildGraph, versions: dict, override: str) -> "_Where":
    insecure = {host for host, settings in graph.workspace.registries if settings.get("insecure")}
    return _Where(graph, versions, override, insecure)


def _add_pushes(plan: PublishPlan, graph: BuildGraph, where: "_Where", select, kinds=("image", "chart")) -> set[str]:
    """Pushes of the image targets, then the chart targets, that `select(task, artifact label)` takes."""
    artifacts = {str(a.label): a for a in graph.artifacts}
    built: set[str] = set()
    for kind in kinds:
        for task, target_plan in graph.plans.items():
            label = _built_artifact(target_plan)
            if label is None or artifacts[str(label)].kind != kind or not select(task, label):
                continue
            artifact = artifacts[str(label)]
            version = where.versions[label.component]
            if version.dirty:
                plan.problems.append(f"{label}: its version {version.version} is dirty (uncommitted changes in "
                                     f"{label.component}); commit them first: a pushed tag must name a commit")
                continue
            source = _source(graph.workspace.root, target_plan, kind)
            if source is None:
                plan.problems.append(f"{label}: {task} has not built it (run `doit {task}`)")
                continue
            registry, repository = where.repository(artifact)
            plan.pushes.append(Push(kind, str(label), task, source, registry, repository,
                                    artifact.tag(version.version), version.version, version.commit,
                                    registry in where.insecure))
            built.add(str(label))
            image = resolve_label(artifact.image, label.component) if kind == "chart" and artifact.image else None
            if image is not None and str(image) in artifacts and image.component in where.versions:
                plan.chart_images[str(label)] = artifacts[str(image)].tag(where.versions[image.component].version)
    return built


class _Where:
    """The repository an artifact is named by at its current version (its own, or its dev one), and the
    registry and path it is pushed to (the override's host, when one is given)."""

    def __init__(self, graph, versions, override, insecure):
        self.graph, self.versions, self.override, self.insecure = graph, versions, override, insecure

    def named(self, artifact: Artifact) -> str:
        record = self.versions.get(artifact.label.component)
        dev = dev_repository(artifact, self.graph.workspace.dev_prefix) if record and not record.tag else ""
        return dev or artifact.repository

    def repository(self, artifact: Artifact) -> tuple[str, str]:
        return split_repository(self.named(artifact), self.override)

    def requirement(self, artifact: Artifact, tag: str, named_by: str, released: bool = False) -> Requirement:
        """`released`: the tag names a release, found in the artifact's own repository (never a dev one)."""
        registry, repository = split_repository(artifact.repository, self.override) if released \
            else self.repository(artifact)
        return Requirement(str(artifact.label), registry, repository, tag, named_by, registry in self.insecure)


def _files_and_requirements(graph: BuildGraph, plan: PublishPlan, where: _Where, artifacts: dict) -> None:
    """Each reference the published components hold. A stamped one is read in its stamped output and
    must say what is published; the others are judged as committed (through chart values). Every
    artifact version named is required, and stamped files outside charts become release files."""
    from ksbuild.versioning.check import check_references
    from ksbuild.versioning.plan import out_path
    from ksbuild.versioning.render import NO_RELEASE, bare_version, render

    root = graph.workspace.root
    charts = tuple(a.chart + "/" for a in graph.artifacts if a.kind == "chart" and a.chart)
    committed = check_references(root, graph, where.versions)
    files: dict[str, list] = {}
    for ref, check in zip(graph.references, committed):
        if ref.component not in plan.components:
            continue
        artifact = artifacts[ref.artifact]
        record = where.versions.get(artifact.label.component)
        if ref.policy != "stamp" or record is None:
            value = check.found
            if ref.form == "oci" or not value or (value == NO_RELEASE and not artifact.versions):
                continue
            tag = artifact.tag(bare_version(artifact, ref.form, value))
            plan.required.append(where.requirement(artifact, tag, check.where, released=True))
            continue
        component = graph.workspace.component(ref.component)
        source = out_path(ref.path, component.path, component.name)
        found = _stamped_value(root, source, ref, plan)
        if found is None:
            continue
        line, value = found
        published = Artifact(artifact.label, artifact.kind, where.named(artifact), artifact.tag_prefix)
        expected = render(ref.form, published, record.version)
        if value != expected:
            plan.problems.append(f"{source}:{line}: names {value!r}, but {artifact.label} is published as "
                                 f"{expected!r}")
        if ref.form != "oci":
            plan.required.append(where.requirement(artifact, artifact.tag(record.version), f"{source}:{line}"))
        if not ref.path.startswith(charts):
            relative = os.path.relpath(ref.path, component.path) if component.path not in ("", ".") else ref.path
            files.setdefault(source, [f"{component.name}/{relative}"]).append((str(artifact.label), value))
    plan.files = [ReleaseFile(source, entry[0], tuple(entry[1:])) for source, entry in sorted(files.items())]


def _stamped_value(root: str, source: str, ref, plan: PublishPlan) -> tuple[int, str] | None:
    """(line, value) of the reference in the stamped output, without a digest."""
    from ksbuild.versioning import locate

    try:
        with open(os.path.join(root, source), encoding="utf-8") as handle:
            found = locate.locate(handle.read(), ref.yaml, ref.regex)
    except (OSError, UnicodeDecodeError):
        plan.problems.append(f"{source}: not built (run `doit {ref.component}:stamped`)")
        return None
    except locate.NotFound as err:
        plan.problems.append(f"{source}: {ref.where}: {err}")
        return None
    return found.line, found.value.split("@", 1)[0]


def _built_artifact(target_plan) -> Label | None:
    rule = target_plan.target.rule
    if rule not in IMAGE_RULES and rule != CHART_RULE:
        return None
    text = target_plan.target.attrs.get("artifact")
    return resolve_label(text, target_plan.label.component) if isinstance(text, str) else None


def _source(root: str, target_plan, kind: str) -> str | None:
    directory = os.path.join(root, target_plan.output_dirs[0])
    if kind == "image":
        return directory if os.path.isfile(os.path.join(directory, "index.json")) else None
    try:
        packages = sorted(name for name in os.listdir(directory) if name.endswith(".tgz"))
    except OSError:
        return None
    return os.path.join(directory, packages[0]) if len(packages) == 1 else None
