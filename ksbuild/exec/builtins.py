"""In-process actions, run by the executor inside the sandbox like any process.

Each takes the sandbox's working directory and the action's argv, and raises OSError or
ValueError on failure.
"""
from __future__ import annotations

import os
import posixpath
import re
import shutil

_DOCUMENT_START = re.compile(r"^---[ \t]*$", re.MULTILINE)
_KIND = re.compile(r"^kind:[ \t]*['\"]?([A-Za-z0-9]+)", re.MULTILINE)


def copy(cwd: str, argv: tuple[str, ...]) -> None:
    """argv is (source, destination) pairs, relative to the working directory."""
    for source, destination in zip(argv[0::2], argv[1::2]):
        shutil.copyfile(os.path.join(cwd, source), os.path.join(cwd, destination))


def copy_dir(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (source directory, destination directory): every file, subdirectories included."""
    shutil.copytree(os.path.join(cwd, argv[0]), os.path.join(cwd, argv[1]), dirs_exist_ok=True)


def split_documents(text: str) -> list[str]:
    """The documents of a YAML stream, as text, without separators or empty documents."""
    return [doc.strip("\n") + "\n" for doc in _DOCUMENT_START.split(text) if doc.strip()]


def kind_of(document: str) -> str:
    match = _KIND.search(document)
    return match.group(1) if match else ""


def join_documents(documents: list[str]) -> str:
    return "---\n".join(documents)


def split_crds(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (stream, rest_out, crds_out): CustomResourceDefinitions to one file, the rest to the other."""
    source, rest_out, crds_out = (os.path.join(cwd, p) for p in argv)
    with open(source, encoding="utf-8") as handle:
        documents = split_documents(handle.read())
    crds = [d for d in documents if kind_of(d) == "CustomResourceDefinition"]
    rest = [d for d in documents if kind_of(d) != "CustomResourceDefinition"]
    for path, chosen in ((rest_out, rest), (crds_out, crds)):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(join_documents(chosen))


def helm_templates(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (stream, out, prefix). What `scripts/add-helm-code.sh add` did, without yq: drop lines
    starting with `#{{-`, and prefix the names of ClusterRoles and ClusterRoleBindings, and the
    bindings' roleRef names, with `prefix` (a Helm values expression)."""
    source, out, prefix = os.path.join(cwd, argv[0]), os.path.join(cwd, argv[1]), argv[2]
    with open(source, encoding="utf-8") as handle:
        text = "".join(line for line in handle.read().splitlines(keepends=True) if not line.startswith("#{{-"))
    documents = []
    for document in split_documents(text):
        kind = kind_of(document)
        if kind in ("ClusterRole", "ClusterRoleBinding"):
            document = _prefix_name(document, "metadata", prefix)
        if kind == "ClusterRoleBinding":
            document = _prefix_name(document, "roleRef", prefix)
        documents.append(document)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(join_documents(documents))


def _prefix_name(document: str, block: str, prefix: str) -> str:
    """Prefix `name:` directly inside the top-level mapping `block` (kustomize's 2-space layout)."""
    lines = document.splitlines(keepends=True)
    inside = False
    for index, line in enumerate(lines):
        if not line.startswith((" ", "\t")) and line.strip():
            inside = line.rstrip() == f"{block}:"
            continue
        match = re.match(r"^(  name:[ \t]*)(.+?)[ \t]*$", line) if inside else None
        if match:
            name = match.group(2).strip("'\"")
            quoted = (prefix + name).replace("'", "''")
            lines[index] = f"{match.group(1)}'{quoted}'\n"
            break
    else:
        raise ValueError(f"no `{block}.name` in a {kind_of(document)} document")
    return "".join(lines)


def stamp(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.versioning.stamp import stamp as render_versions

    render_versions(cwd, argv)




def set_images(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (kustomization directory, JSON {name: image}). What `kustomize edit set image NAME=IMAGE`
    does in the kustomization that already names NAME (the top one when none does), done to the
    sandbox's copies: each edited file is replaced, never written through, so a source is never touched."""
    import json

    import yaml

    from ksbuild.loader.kustomization import KUSTOMIZATION_FILES, kustomization_inputs

    directory, images = posixpath.normpath(argv[0]), json.loads(argv[1])
    scan = kustomization_inputs(cwd, directory, lambda path: True)
    top = next((posixpath.join(directory, name) for name in KUSTOMIZATION_FILES
                if os.path.isfile(os.path.join(cwd, directory, name))), None)
    if scan.problems or top is None:
        raise ValueError(f"cannot read the kustomization in {directory}: "
                         + (str(scan.problems[0]) if scan.problems else "none there"))
    files = [top] + [p for p in scan.files if posixpath.basename(p) in KUSTOMIZATION_FILES and p != top]
    documents = {}
    for path in files:
        with open(os.path.join(cwd, path), encoding="utf-8") as handle:
            documents[path] = yaml.safe_load(handle) or {}
    for name, image in images.items():
        owner = next((p for p in files if any(isinstance(e, dict) and e.get("name") == name
                                              for e in documents[p].get("images") or ())), top)
        entries = documents[owner].setdefault("images", [])
        entry = next((e for e in entries if isinstance(e, dict) and e.get("name") == name), None)
        if entry is None:
            entry = {"name": name}
            entries.append(entry)
        for key in ("newName", "newTag", "digest"):
            entry.pop(key, None)
        repository, digest = image.split("@", 1) if "@" in image else (image, "")
        if not digest and ":" in repository.rsplit("/", 1)[-1]:
            repository, tag = repository.rsplit(":", 1)
            entry["newTag"] = tag
        entry["newName"] = repository
        if digest:
            entry["digest"] = digest
        replacement = os.path.join(cwd, owner + ".ksbuild-new")
        with open(replacement, "w", encoding="utf-8") as handle:
            yaml.safe_dump(documents[owner], handle, sort_keys=False)
        os.replace(replacement, os.path.join(cwd, owner))


def version_text(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.exec.imagebuiltins import version_text as write

    write(cwd, argv)


def oci_image(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.exec.imagebuiltins import oci_image as build

    build(cwd, argv)


def docker_build(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.exec.imagebuiltins import docker_build as build

    build(cwd, argv)


def helm_package(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.charts.build import helm_package as package

    package(cwd, argv)


BUILTINS = {"copy": copy, "copy_dir": copy_dir, "stamp": stamp, "split_crds": split_crds, "helm_templates": helm_templates,
            "set_images": set_images, "version_text": version_text, "oci_image": oci_image,
            "docker_build": docker_build, "helm_package": helm_package}
