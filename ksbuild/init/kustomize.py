"""What `kustomize build DIR` is made of, read without kustomize: the objects its resources hold (kind,
name before prefixes, the document) and the `images:` entries of every kustomization reached. Enough to
recognise a committed rendering, not to render one."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ksbuild.init.repo import Repo, dig, name_of
from ksbuild.loader.kustomization import KUSTOMIZATION_FILES, kustomization_inputs

MAX_DEPTH = 20


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    doc: dict
    generated: bool = False  # a configMapGenerator's: kustomize appends a hash to its name


@dataclass
class Rendering:
    directory: str
    resources: list[Resource] = field(default_factory=list)
    images: dict[str, dict] = field(default_factory=dict)  # images entries by name


def kustomization_dirs(repo: Repo) -> list[str]:
    """Directories holding a kustomization, config/default first (what kubebuilder's charts render)."""
    dirs = {posixpath.dirname(p) for p in repo.files if posixpath.basename(p) in KUSTOMIZATION_FILES} - {""}
    return sorted(dirs, key=lambda d: (d != "config/default", d))


def read(repo: Repo, directory: str) -> Rendering | None:
    """None when ksbuild could not build it (a remote or missing resource, a helm chart) or it is not
    plain enough to read."""
    scan = kustomization_inputs(repo.root, directory)
    if scan.problems:
        return None
    rendering = Rendering(directory)
    return rendering if _walk(repo, directory, rendering, set(), 0) else None


def _walk(repo: Repo, directory: str, rendering: Rendering, seen: set[str], depth: int) -> bool:
    name = next((n for n in KUSTOMIZATION_FILES if repo.on_disk(f"{directory}/{n}")), None)
    if name is None or directory in seen or depth > MAX_DEPTH:
        return False
    seen.add(directory)
    docs = repo.yaml_docs(f"{directory}/{name}")
    if not docs or not isinstance(docs[0], dict):
        return docs == []
    kustomization = docs[0]
    entries = [e for key in ("resources", "bases") for e in _list(kustomization.get(key))]
    for entry in entries:
        path = posixpath.normpath(posixpath.join(directory, str(entry)))
        if not isinstance(entry, str) or path.startswith("../"):
            return False
        if repo.on_disk(path):
            objects = repo.yaml_docs(path)
            if objects is None:
                return False
            rendering.resources += [Resource(str(o.get("kind", "")), name_of(o), o)
                                    for o in objects if isinstance(o, dict)]
        elif not _walk(repo, path, rendering, seen, depth + 1):
            return False
    for generator, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for entry in _list(kustomization.get(generator)):
            if isinstance(entry, dict) and entry.get("name"):
                rendering.resources.append(Resource(kind, str(entry["name"]), {}, generated=True))
    for entry in _list(kustomization.get("images")):
        if isinstance(entry, dict) and entry.get("name"):
            rendering.images.setdefault(str(entry["name"]), entry)
    return True


def _list(value) -> list:
    return value if isinstance(value, list) else []


def image_name(image: str) -> str:
    """The image without its tag or digest: what a kustomization's `images:` entry is named by."""
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return image[: len(image) - len(last)] + last.split(":", 1)[0]


def set_image(image: str, entries: dict[str, dict]) -> str:
    """What kustomize writes for `image` given the `images:` entries."""
    entry = entries.get(image_name(image))
    if entry is None:
        return image
    name = str(entry.get("newName") or image_name(image))
    if entry.get("digest"):
        return f"{name}@{entry['digest']}"
    if entry.get("newTag") is not None:
        return f"{name}:{entry['newTag']}"
    return name + image[len(image_name(image)):]


def containers(doc: dict) -> dict[str, str]:
    """Container name -> image of a workload's pod template (a Pod's spec, a CronJob's job template)."""
    spec = dig(doc, "spec", "jobTemplate", "spec") if doc.get("kind") == "CronJob" else dig(doc, "spec")
    pod = spec if doc.get("kind") == "Pod" else dig(spec, "template", "spec")
    found = {}
    for key in ("initContainers", "containers"):
        for container in _list(dig(pod, key)):
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                found[str(container.get("name"))] = container["image"]
    return found
