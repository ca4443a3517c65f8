"""Every reference, found in its file and judged: what `doit versions` lists and `doit verify` checks."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ksbuild.model import BuildGraph, Label
from ksbuild.versioning import locate
from ksbuild.versioning.render import judge


@dataclass(frozen=True)
class ReferenceCheck:
    where: str  # file:line
    policy: str
    artifact: str
    found: str
    expected: str
    ok: bool
    message: str = ""


def check_references(root: str, graph: BuildGraph, versions: dict) -> list[ReferenceCheck]:
    """`versions`: component -> ComponentVersion. Files are read from `root` (a checkout, or the tree)."""
    artifacts = {a.label: a for a in graph.artifacts}
    texts: dict[str, str | None] = {}
    results = []
    for ref in graph.references:
        artifact = artifacts[Label.parse(ref.artifact)]
        version = versions[artifact.label.component]
        if ref.path not in texts:
            try:
                with open(os.path.join(root, ref.path), encoding="utf-8") as handle:
                    texts[ref.path] = handle.read()
            except OSError:
                texts[ref.path] = None
        text = texts[ref.path]
        if text is None:
            results.append(ReferenceCheck(f"{ref.path}", ref.policy, ref.artifact, "", "", False,
                                          f"the file does not exist (declared at {ref.file}:{ref.line})"))
            continue
        try:
            found = locate.locate(text, ref.yaml, ref.regex)
        except locate.NotFound as err:
            results.append(ReferenceCheck(f"{ref.path}", ref.policy, ref.artifact, "", "", False,
                                          f"{ref.where} does not resolve: {err} (declared at {ref.file}:{ref.line})"))
            continue
        verdict = judge(ref, artifact, found.value, version.version, version.released)
        results.append(ReferenceCheck(f"{ref.path}:{found.line}", ref.policy, ref.artifact, found.value,
                                      verdict.expected, verdict.ok, verdict.message))
    return results
