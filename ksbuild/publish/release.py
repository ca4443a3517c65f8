"""Checking a publish plan against the registries, pushing it, and writing the release manifest.

    checked = preflight(plan)          # PublishError listing every problem: nothing was pushed
    results = push_all(checked, say)   # images, then charts; a tag naming the same digest is a no-op
    write_release(directory, plan, checked, results, commit)

Tags are immutable: before anything is sent, every tag to push is looked up, and one that names other
content refuses the whole publish. Every version a published file names must be pushed by this
publish or be in its registry already. A chart's Chart.yaml must say the version it is pushed as, and
its appVersion must be its image's tag. So a failed release is simply run again: what was pushed is
unchanged, the rest follows.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass

from ksbuild.publish import PublishError
from ksbuild.publish.plan import PublishPlan, Push

MANIFEST_FILE = "release.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Checked:
    push: Push
    digest: str  # what the tag will name
    status: str  # "new" or "unchanged" (the tag already names this digest)


def preflight(plan: PublishPlan) -> list[Checked]:
    from ksbuild.registry.errors import RegistryError

    problems = list(plan.problems)
    checked = []
    planned = {(p.registry, p.repository, p.tag): p for p in plan.pushes}
    with _Registries() as registries:
        for push in plan.pushes:
            try:
                digest = _digest(push, plan, problems)
                existing = registries.get(push.registry, push.insecure).tagged(push.repository, push.tag)
            except (PublishError, RegistryError) as err:
                problems.append(f"{push.artifact}: {err}")
                continue
            if existing is not None and existing != digest:
                problems.append(f"{push.artifact}: {push.reference} already names {existing}, not {digest}: tags are "
                                "immutable (publish the change under a new version)")
                continue
            checked.append(Checked(push, digest, "unchanged" if existing else "new"))
        seen = set()
        for need in plan.required:
            key = (need.registry, need.repository, need.tag)
            if key in planned or key in seen:
                continue
            seen.add(key)
            try:
                present = registries.get(need.registry, need.insecure).tagged(need.repository, need.tag)
            except RegistryError as err:
                problems.append(f"{need.named_by}: cannot check {need.reference}: {err}")
                continue
            if present is None:
                problems.append(f"{need.named_by}: names {need.reference} ({need.artifact}), which this publish does "
                                "not push and the registry does not have")
    if problems:
        raise PublishError("nothing was pushed:\n" + "\n".join(f"  - {p}" for p in dict.fromkeys(problems)))
    return checked


def push_all(checked: list[Checked], say) -> list[str]:
    """Push what is new, in plan order (images before the charts naming them); returns the statuses."""
    from ksbuild.charts import push_chart
    from ksbuild.registry.push import push_layout

    statuses = []
    with _Registries() as registries:
        for item in checked:
            push = item.push
            if item.status == "unchanged":
                say(f"unchanged {push.reference}@{item.digest}")
                statuses.append("unchanged")
                continue
            registry = registries.get(push.registry, push.insecure)
            if push.kind == "image":
                result = push_layout(registry, push.repository, push.tag, push.source)
            else:
                result = push_chart(registry, push.repository, push.source)
            if result.digest != item.digest:  # the source changed under us: say so, loudly
                raise PublishError(f"{push.artifact}: pushed {result.digest}, but {item.digest} was checked")
            say(f"pushed {push.reference}@{result.digest} ({result.uploaded} blob(s) uploaded)")
            statuses.append("pushed")
    return statuses


def write_release(directory: str, plan: PublishPlan, checked: list[Checked], statuses: list[str] | None,
                  root: str, mode: str) -> str:
    """The release directory: its files (stamped hooks and manifests) and release.json. Returns the
    manifest's path. Written beside and renamed into place: a reader never sees half of it."""
    staging = directory.rstrip("/") + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    files = []
    for item in plan.files:
        destination = os.path.join(staging, "files", item.name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(os.path.join(root, item.path), destination)
        with open(destination, "rb") as handle:
            digest = "sha256:" + hashlib.sha256(handle.read()).hexdigest()
        files.append({"path": f"files/{item.name}", "digest": digest,
                      "references": [{"artifact": a, "value": v} for a, v in item.refs]})
    artifacts = []
    for index, item in enumerate(checked):
        push = item.push
        artifacts.append({
            "artifact": push.artifact, "kind": push.kind, "registry": push.registry, "repository": push.repository,
            "tag": push.tag, "digest": item.digest, "reference": f"{push.reference}@{item.digest}",
            "version": push.version, "source_commit": push.commit,
            "status": statuses[index] if statuses else f"would be {'pushed' if item.status == 'new' else 'unchanged'}",
            "references": _held(push, checked)})
    manifest = {"format": MANIFEST_FORMAT, "mode": mode,
                "components": [{"name": name, "version": v.version, "tag": v.tag, "commit": v.commit}
                               for name, v in plan.components.items()],
                "artifacts": artifacts, "files": files}
    with open(os.path.join(staging, MANIFEST_FILE), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)
    return os.path.join(directory, MANIFEST_FILE)


def _held(push: Push, checked: list[Checked]) -> list[dict]:
    """What a chart names, resolved: its appVersion and the images its package refers to by digest."""
    if push.kind != "chart":
        return []
    from ksbuild.charts.oci import read_archive_metadata

    metadata = read_archive_metadata(push.source)
    held = [{"field": "appVersion", "value": str(metadata.get("appVersion", ""))}]
    text = _package_text(push.source)
    for item in checked:
        if item.push.kind == "image":
            pattern = re.compile(r"[\w./:-]*:" + re.escape(f"{item.push.tag}@{item.digest}"))
            for value in sorted(set(pattern.findall(text))):
                held.append({"artifact": item.push.artifact, "value": value})
    return held


def _package_text(archive: str) -> str:
    import tarfile

    parts = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers()[:10000]:
            if member.isfile() and member.size < 4 * 2**20:
                handle = tar.extractfile(member)
                parts.append(handle.read().decode("utf-8", "replace") if handle else "")
    return "\n".join(parts)


def _digest(push: Push, plan: PublishPlan, problems: list[str]) -> str:
    """The digest the tag will name; for a chart, its Chart.yaml is checked against what it is pushed as."""
    if push.kind == "image":
        from ksbuild.images.layout import open_layout
        from ksbuild.images.oci import ImageError

        try:
            return open_layout(push.source).root.digest
        except ImageError as err:
            raise PublishError(str(err)) from None
    from ksbuild.charts import ChartError, chart_manifest

    try:
        manifest = chart_manifest(push.source)
    except ChartError as err:
        raise PublishError(str(err)) from None
    if manifest.tag != push.tag:
        problems.append(f"{push.artifact}: its Chart.yaml says version {manifest.metadata['version']}, but it is "
                        f"pushed as {push.tag}")
    image = plan.chart_images.get(push.artifact)
    if image is not None and str(manifest.metadata.get("appVersion", "")) != image:
        problems.append(f"{push.artifact}: its appVersion is {manifest.metadata.get('appVersion')!r}, but its image's "
                        f"tag is {image!r}")
    return manifest.digest


class _Registries:
    """One client per registry host for the whole publish."""

    def __init__(self):
        self.open = {}

    def get(self, host: str, insecure: bool):
        from ksbuild.registry.client import Registry

        if (host, insecure) not in self.open:
            self.open[(host, insecure)] = Registry(host, insecure=insecure)
        return self.open[(host, insecure)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for registry in self.open.values():
            registry.close()
