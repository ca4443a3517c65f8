"""The `stamp` builtin: copy files into .ksbuild/out/, each reference's placeholder replaced by the
version this run computed (read from the version files, which are the action's inputs)."""
from __future__ import annotations

import json
import os
import shutil

from ksbuild.versioning import locate
from ksbuild.versioning.declare import Artifact
from ksbuild.versioning.render import render
from ksbuild.model import Label


def stamp(cwd: str, argv: tuple[str, ...]) -> None:
    spec = json.loads(argv[0])
    versions = {}
    for artifact, path in spec["versions"].items():
        with open(os.path.join(cwd, path), encoding="utf-8") as handle:
            versions[artifact] = json.load(handle)["version"]
    for entry in spec["files"]:
        source, out = os.path.join(cwd, entry["src"]), os.path.join(cwd, entry["out"])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if not entry["refs"]:
            shutil.copyfile(source, out)
            continue
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        for ref in entry["refs"]:  # re-located each time: a replacement may shift what follows
            artifact = Artifact(Label.parse(ref["artifact"]), "", ref["repository"], ref["tag_prefix"])
            found = locate.locate(text, ref["yaml"], ref["regex"])
            committed = render(ref["form"], artifact, ref["placeholder"])
            if found.value != committed and not ref.get("always"):
                raise ValueError(f"{entry['src']}:{found.line}: expected {committed!r} to stamp, found {found.value!r} "
                                 "(doit verify says more)")
            text = locate.replace(text, found, render(ref["form"], artifact, versions[ref["artifact"]]))
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        shutil.copymode(source, out)
