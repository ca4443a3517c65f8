"""Which built images go where, and pushing them.

An image target's layout (.ksbuild/out/COMPONENT/images/NAME/) is pushed to its artifact's
repository, tagged with the artifact's version as published (tag_prefix included). A `.dirty`
version is refused: it names no commit. A registry override (`--registry HOST[:PORT]`, or
KSBUILD_PUSH_REGISTRY) publishes every repository path under another registry, for staging and
for tests: ghcr.io/kubestellar/x becomes HOST:PORT/kubestellar/x.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ksbuild.model import IMAGE_RULES
from ksbuild.versioning.declare import split_repository

class PublishError(Exception):
    """Nothing can be published as asked: the message says what and how to fix it."""


@dataclass(frozen=True)
class ImagePush:
    task: str  # the image target
    layout: str  # absolute path of its OCI layout
    registry: str  # HOST[:PORT]
    repository: str  # the path within the registry
    tag: str
    insecure: bool

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


def plan_image_pushes(graph, versions: dict, wanted: list[str], override: str = "") -> list[ImagePush]:
    """The pushes of the image targets named in `wanted` (tasks; all when empty), in graph order."""
    artifacts = {str(a.label): a for a in graph.artifacts}
    insecure_hosts = {host for host, settings in graph.workspace.registries if settings.get("insecure")}
    pushes, unknown = [], set(wanted)
    for task, plan in graph.plans.items():
        if plan.target.rule not in IMAGE_RULES or (wanted and task not in wanted):
            continue
        unknown.discard(task)
        artifact = artifacts[_artifact_label(plan)]
        version = versions[artifact.label.component]
        if version.dirty:
            raise PublishError(f"{task}: its version {version.version} is dirty (uncommitted changes in "
                               f"{artifact.label.component}); commit them first: a pushed tag must name a commit")
        registry, repository = split_repository(artifact.repository, override)
        layout = os.path.join(graph.workspace.root, plan.output_dirs[0])
        if not os.path.isfile(os.path.join(layout, "index.json")):
            raise PublishError(f"{task}: no image built in {plan.output_dirs[0]}; run `doit {task}` first")
        pushes.append(ImagePush(task, layout, registry, repository, artifact.tag(version.version),
                                registry in insecure_hosts))
    if unknown:
        raise PublishError(f"not image targets: {', '.join(sorted(unknown))}")
    return pushes


def push_images(pushes: list[ImagePush], say) -> list:
    """Push each image (blobs, manifests, then the tag last); `say(line)` reports progress."""
    from ksbuild.registry.client import Registry
    from ksbuild.registry.push import push_layout

    results = []
    for push in pushes:
        with Registry(push.registry, insecure=push.insecure) as registry:
            result = push_layout(registry, push.repository, push.tag, push.layout)
        say(f"pushed {push.reference}@{result.digest} ({result.uploaded} blob(s) uploaded, "
            f"{result.existing} already there)")
        results.append(result)
    return results


def _artifact_label(plan) -> str:
    from ksbuild.versioning.declare import resolve_label

    return str(resolve_label(plan.target.attrs["artifact"], plan.label.component))
