"""The `stamp` builtin: copy files into .ksbuild/out/, each reference's placeholder replaced by the
version this run computed (read from the version files, which are the action's inputs).

`stamp_text` is the one place a reference is stamped: the `stamp` builtin and the chart packager
(`ksbuild.charts.build`) both use it."""
from __future__ import annotations

import json
import os
import shutil

from ksbuild.versioning import locate
from ksbuild.versioning.declare import Artifact
from ksbuild.versioning.render import render
from ksbuild.model import Label


def read_versions(cwd: str, files: dict[str, str]) -> dict[str, dict]:
    """{artifact: the version record of its component} from {artifact: version file}."""
    found = {}
    for artifact, path in files.items():
        with open(os.path.join(cwd, path), encoding="utf-8") as handle:
            found[artifact] = json.load(handle)
    return found


def stamp_text(text: str, refs: list[dict], versions: dict[str, dict], where: str,
               digests: dict[str, str] | None = None) -> str:
    """`text` with every reference of `refs` (versioning.plan's reference specs) stamped with its
    artifact's version, and, for an `image` reference to an artifact in `digests`, `@DIGEST` after
    the tag: the reference then names exactly the image that was built. The published repository
    is the artifact's `repository`, or its `dev_repository` for a development version."""
    for ref in refs:  # re-located each time: a replacement may shift what follows
        record = versions[ref["artifact"]]
        declared = Artifact(Label.parse(ref["artifact"]), "", ref["repository"], ref["tag_prefix"])
        published = Artifact(declared.label, "", publish_repository(ref, record), ref["tag_prefix"])
        found = locate.locate(text, ref["yaml"], ref["regex"])
        committed = render(ref["form"], declared, ref["placeholder"])
        if found.value != committed and not ref.get("always"):
            raise ValueError(f"{where}:{found.line}: expected {committed!r} to stamp, found {found.value!r} "
                             "(doit verify says more)")
        value = render(ref["form"], published, record["version"])
        if ref["form"] == "image" and digests and ref["artifact"] in digests:
            value += "@" + digests[ref["artifact"]]
        text = locate.replace(text, found, value)
    return text


def publish_repository(ref: dict, record: dict) -> str:
    """Where the artifact of a reference spec is published at the version `record` describes."""
    if ref.get("dev_repository") and not record.get("tag"):
        return ref["dev_repository"]
    return ref["repository"]


def stamp(cwd: str, argv: tuple[str, ...]) -> None:
    spec = json.loads(argv[0])
    versions = read_versions(cwd, spec["versions"])
    for entry in spec["files"]:
        source, out = os.path.join(cwd, entry["src"]), os.path.join(cwd, entry["out"])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if not entry["refs"]:
            shutil.copyfile(source, out)
            continue
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        text = stamp_text(text, entry["refs"], versions, entry["src"])
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        shutil.copymode(source, out)
