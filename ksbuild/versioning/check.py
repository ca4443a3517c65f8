"""Every reference, found in its file and judged: what `doit versions` lists and `doit verify` checks."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from ksbuild.model import BuildGraph, Label
from ksbuild.versioning import locate
from ksbuild.versioning.helmvalues import NoValue, resolve_values
from ksbuild.versioning.render import bare_version, judge, render


@dataclass(frozen=True)
class ReferenceCheck:
    where: str  # file:line, of the place to fix (a values file's line, for a value that goes through one)
    policy: str
    artifact: str
    found: str
    expected: str
    ok: bool
    message: str = ""
    info: str = ""  # said beside an OK row: a committed value that is only information, the template it came from
    agree: str = ""  # its `agree` group


@dataclass(frozen=True)
class ArtifactVersion:
    """What a reference is judged against: the artifact's version now, and its released versions."""

    version: str
    released: tuple[str, ...]
    release: bool  # `version` is a release (an exact clean tag), not a development version


def artifact_versions(graph: BuildGraph, versions: dict) -> dict[str, ArtifactVersion]:
    """`versions`: component -> ComponentVersion; external artifacts use their declared versions."""
    found = {}
    for artifact in graph.artifacts:
        if artifact.external:
            found[str(artifact.label)] = ArtifactVersion(artifact.versions[-1], artifact.versions, True)
        else:
            version = versions[artifact.label.component]
            found[str(artifact.label)] = ArtifactVersion(version.version, version.released, bool(version.tag))
    return found


def check_references(root: str, graph: BuildGraph, versions: dict) -> list[ReferenceCheck]:
    """Files are read from `root` (a checkout, or the tree), as committed: never a build's output."""
    artifacts = {a.label: a for a in graph.artifacts}
    now = artifact_versions(graph, versions)
    texts = _Texts(root)
    results = []
    for ref in graph.references:
        artifact = artifacts[Label.parse(ref.artifact)]
        text = texts.read(ref.path)
        if text is None:
            results.append(ReferenceCheck(ref.path, ref.policy, ref.artifact, "", "", False,
                                          f"the file does not exist (declared at {ref.file}:{ref.line})",
                                          agree=ref.agree))
            continue
        try:
            found = locate.locate(text, ref.yaml, ref.regex)
        except locate.NotFound as err:
            results.append(ReferenceCheck(ref.path, ref.policy, ref.artifact, "", "", False,
                                          f"{ref.where} does not resolve: {err} (declared at {ref.file}:{ref.line})",
                                          agree=ref.agree))
            continue
        where, value, info = f"{ref.path}:{found.line}", found.value, ""
        if "{{" in value:
            try:
                resolved = resolve_values(value, ref.values or _chart_values(root, ref.path), texts.read)
            except NoValue as err:
                results.append(ReferenceCheck(where, ref.policy, ref.artifact, value, "", False, str(err),
                                              agree=ref.agree))
                continue
            info = f"{value} at {where}"
            where, value = resolved.where or where, resolved.value
        if ref.always:
            version = render(ref.form, artifact, now[ref.artifact].version)
            results.append(ReferenceCheck(where, "stamp", ref.artifact, value, version, True,
                                          info=f"information only: the build stamps {version}",
                                          agree=ref.agree))
            continue
        verdict = judge(ref, artifact, value, now[ref.artifact])
        results.append(ReferenceCheck(where, ref.policy, ref.artifact, value, verdict.expected, verdict.ok,
                                      verdict.message, info=(f"through {info}" if info else verdict.info),
                                      agree=ref.agree))
    return _agreements(graph, results)


def _agreements(graph: BuildGraph, results: list[ReferenceCheck]) -> list[ReferenceCheck]:
    """Each `agree` group's references name one version: the source of truth's."""
    artifacts = {str(a.label): a for a in graph.artifacts}
    groups: dict[str, list[int]] = {}
    for index, ref in enumerate(graph.references):
        if ref.agree:
            groups.setdefault(ref.agree, []).append(index)
    for name, members in groups.items():
        truth = next((i for i in members if graph.references[i].truth), members[0])
        source = results[truth]
        expected = bare_version(artifacts[graph.references[truth].artifact], graph.references[truth].form,
                                source.found)
        if not source.found:
            continue
        for index in members:
            if index == truth:
                continue
            ref, result = graph.references[index], results[index]
            version = bare_version(artifacts[ref.artifact], ref.form, result.found)
            if result.found and version != expected:
                message = (f"disagrees with its `agree: {name}` group: {source.where} (the source of truth) says "
                           f"{expected}, this says {version}")
                results[index] = replace(result, ok=False, expected=expected,
                                         message="; ".join(filter(None, [result.message, message])))
    return results


def _chart_values(root: str, path: str) -> str:
    """values.yaml of the chart that holds `path` (the nearest directory above it with Chart.yaml)."""
    directory = os.path.dirname(path)
    while directory:
        if os.path.isfile(os.path.join(root, directory, "Chart.yaml")):
            return f"{directory}/values.yaml"
        directory = os.path.dirname(directory)
    return ""


class _Texts:
    """Files read once per check, as text; None for a missing or unreadable one."""

    def __init__(self, root: str):
        self.root = root
        self.texts: dict[str, str | None] = {}

    def read(self, path: str) -> str | None:
        if path not in self.texts:
            try:
                with open(os.path.join(self.root, path), encoding="utf-8") as handle:
                    self.texts[path] = handle.read()
            except (OSError, UnicodeDecodeError):
                self.texts[path] = None
        return self.texts[path]
