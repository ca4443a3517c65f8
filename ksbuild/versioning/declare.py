"""BUILD.yaml `artifacts:` (images and charts, with the repositories they are published to) and
`references:` (a place in a file that names an artifact's version): checked like targets."""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ksbuild.errors import Problems
from ksbuild.loader.schema import Field, check
from ksbuild.model import Label, in_component
from ksbuild.versioning import semver

KINDS = ("image", "chart")
FORMS = ("image", "tag", "version", "v-version", "oci")
POLICIES = ("stamp", "pinned", "current")
PLACEHOLDER = "KSBUILD_VERSION"

ARTIFACT_FIELDS = (
    Field("kind", "string", "`image` or `chart`", required=True),
    Field("repository", "string", "where it is published, e.g. ghcr.io/kubestellar/kubestellar/controller-manager",
          required=True),
    Field("tag_prefix", "string", "what goes before the version in its published tag: '' (default) or `v`"),
    Field("chart", "string", "for a chart: its directory (with Chart.yaml), relative to the component"),
    Field("image", "string", "for a chart: the label of the image it deploys (its appVersion is that image's version)"),
    Field("built_from", "strings", "labels of the targets whose outputs it is made of (solid edges in `doit graph`)"),
    Field("doc", "string", "one line for `doit versions`"),
    Field("external", "bool", "built and published elsewhere (a helm or kubectl image): references to it are "
          "checked against `versions`, not a component's tags"),
    Field("versions", "strings", "for an external artifact: its known released versions, oldest first"),
)
REFERENCE_FIELDS = (
    Field("file", "string", "the file holding the reference, relative to the component", required=True),
    Field("yaml", "string", "where in the file, as a YAML path such as spec.template.spec.containers[0].image"),
    Field("regex", "string", "or where in the file, as a regular expression with a group named `value`"),
    Field("artifact", "string", "the label of the artifact named: `:name` or `//component:name`", required=True),
    Field("form", "string", "how the value names it: `image` (repository:tag), `tag` (as published, prefix "
          "included), `version` (bare SemVer), `v-version` (v + SemVer) or `oci` (oci://repository)", required=True),
    Field("policy", "string", "`stamp`: the committed value holds a placeholder that ksbuild replaces in build "
          "outputs; `pinned`: the committed value names a released version; `current`: it names the artifact's "
          "current release (this commit's version when it is tagged, else the last release)", required=True),
    Field("placeholder", "string", f"the text a stamped value holds (default {PLACEHOLDER})"),
    Field("agree", "string", "a group name: every reference of the group, across the workspace, must name the "
          "same version (the first declared, or the one with `truth: true`, is the source of truth)"),
    Field("truth", "bool", "this reference is its `agree` group's source of truth"),
    Field("values", "string", "the chart values file that `{{ .Values.X }}` in the value resolves against, relative "
          "to the component (default: values.yaml of the chart holding the file)"),
)


@dataclass(frozen=True)
class Artifact:
    label: Label
    kind: str
    repository: str
    tag_prefix: str = ""
    chart: str = ""  # workspace-relative chart directory
    image: str = ""  # label text of the chart's image
    built_from: tuple[str, ...] = ()
    doc: str = ""
    file: str = ""
    line: int = 0
    external: bool = False
    versions: tuple[str, ...] = ()  # an external artifact's known releases, oldest first

    def tag(self, version: str) -> str:
        return self.tag_prefix + version


@dataclass(frozen=True)
class Reference:
    component: str
    path: str  # workspace-relative file
    yaml: str
    regex: str
    artifact: str  # label text, resolved against `component`
    form: str
    policy: str
    placeholder: str
    file: str  # the BUILD.yaml declaring it
    line: int
    agree: str = ""  # the group of references that must name the same version
    truth: bool = False
    values: str = ""  # workspace-relative values file for `{{ .Values.X }}` ("" = the chart's values.yaml)
    always: bool = False  # stamped whatever the committed value (a chart's own version): it is information

    @property
    def where(self) -> str:
        return self.yaml or f"/{self.regex}/"


def artifacts(data, component, file: str, problems: Problems) -> list[Artifact]:
    found = []
    entries = data.get("artifacts") or {}
    for name, spec in entries.items():
        line = entries.line_of(name)
        where = f"artifact {name!r}"
        if not check(spec, ARTIFACT_FIELDS, file=file, line=line, where=where, problems=problems):
            continue
        if spec["kind"] not in KINDS:
            problems.add(file, spec.line_of("kind"), f"{where}: kind {spec['kind']!r} is not one of {', '.join(KINDS)}",
                         "Declare images and charts.")
            continue
        if spec.get("tag_prefix", "") not in ("", "v"):
            problems.add(file, spec.line_of("tag_prefix"), f"{where}: tag_prefix must be '' or 'v'",
                         "Published tags are the version, or `v` and the version.")
            continue
        chart = spec.get("chart", "")
        external = spec.get("external", False)
        versions = tuple(spec.get("versions", ()))
        if external != bool(versions):
            problems.add(file, line, f"{where}: `external` and `versions` go together",
                         "An artifact built elsewhere lists its known versions; one built here has neither.")
            continue
        bad = [v for v in versions if semver.parse(v) is None]
        if bad:
            problems.add(file, spec.line_of("versions"), f"{where}: version {bad[0]!r} is not SemVer",
                         "List released versions such as 1.32.13, oldest first.")
            continue
        found.append(Artifact(
            label=Label(component.name, name), kind=spec["kind"], repository=spec["repository"],
            tag_prefix=spec.get("tag_prefix", ""),
            chart=in_component(component.path, posixpath.normpath(chart)) if chart else "", image=spec.get("image", ""),
            built_from=tuple(spec.get("built_from", ())), doc=spec.get("doc", ""), file=file, line=line,
            external=external, versions=versions))
    return found


def references(data, component, file: str, problems: Problems) -> list[Reference]:
    found = []
    entries = data.get("references") or []
    if not isinstance(entries, list):
        problems.add(file, getattr(entries, "line", 0), "references must be a list", "Write `- file: ...` items.")
        return []
    for index, spec in enumerate(entries):
        line = entries.line_of(index)
        where = f"reference {index + 1}"
        if not check(spec, REFERENCE_FIELDS, file=file, line=line, where=where, problems=problems):
            continue
        bad = [(key, allowed) for key, allowed in (("form", FORMS), ("policy", POLICIES)) if spec[key] not in allowed]
        for key, allowed in bad:
            problems.add(file, spec.line_of(key), f"{where}: {key} {spec[key]!r} is not one of {', '.join(allowed)}",
                         f"{key}: " + next(f.doc for f in REFERENCE_FIELDS if f.name == key))
        if ("yaml" in spec) == ("regex" in spec):
            problems.add(file, line, f"{where}: give exactly one of `yaml` and `regex`",
                         "Say where in the file the reference is.")
            continue
        if "regex" in spec:
            try:
                if "value" not in re.compile(spec["regex"]).groupindex:
                    raise re.error("no group named `value`")
            except re.error as err:
                problems.add(file, spec.line_of("regex"), f"{where}: regex is not usable: {err}",
                             "Write a regular expression with a named group: (?P<value>...).")
                continue
        if bad:
            continue
        values = spec.get("values", "")
        found.append(Reference(
            component=component.name, path=in_component(component.path, posixpath.normpath(spec["file"])),
            yaml=spec.get("yaml", ""), regex=spec.get("regex", ""), artifact=spec["artifact"], form=spec["form"],
            policy=spec["policy"], placeholder=spec.get("placeholder", PLACEHOLDER), file=file, line=line,
            agree=spec.get("agree", ""), truth=spec.get("truth", False),
            values=in_component(component.path, posixpath.normpath(values)) if values else ""))
    return found


def split_repository(repository: str, override: str = "") -> tuple[str, str]:
    """ghcr.io/kubestellar/x -> (ghcr.io, kubestellar/x); with an override, (override, kubestellar/x)."""
    first, _, rest = repository.partition("/")
    host, path = (first, rest) if rest and ("." in first or ":" in first or first == "localhost") \
        else ("docker.io", repository)
    return (override or host), path


def dev_repository(artifact: Artifact, dev_prefix: str) -> str:
    """Where the artifact's development versions go: under `publish.dev_prefix`, keeping its path
    ("" when no prefix is configured, or the artifact is built elsewhere)."""
    if not dev_prefix or artifact.external:
        return ""
    return f"{dev_prefix}/{split_repository(artifact.repository)[1]}"


def resolve_label(text: str, component: str) -> Label | None:
    if text.startswith(":"):
        return Label(component, text[1:])
    if text.startswith("//") and ":" in text:
        name, _, target = text[2:].partition(":")
        return Label(name, target)
    return None
