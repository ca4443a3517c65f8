"""Chart dependencies from OCI registries, pinned: resolved once, recorded in workspace.lock, vendored.

    deps = oci_dependencies(chart_yaml_text, "chart/Chart.yaml")   # ChartError for what cannot be pinned
    digest = locked_digest(root, dep, insecure)                    # the lock's, or resolved and recorded
    vendor(dep, digest, insecure, store, "staging/charts")         # NAME-VERSION.tgz, checked

A dependency `{name, version, repository: oci://HOST/PATH}` is the chart HOST/PATH/NAME tagged
VERSION (as `helm dependency update` reads it). Its version must be exact: a range would resolve to
whatever is newest. The tag's manifest digest is looked up once and written to workspace.lock
(`charts:`, keyed `oci://HOST/PATH/NAME:VERSION`); from then on the lock decides, and the package
holds exactly those bytes, fetched by digest into the machine's content-addressed store and checked
(the manifest, the layer, and that the archive's Chart.yaml names that chart at that version).
Dependencies without a repository, or `file://` ones, are the chart's own `charts/` content, left
as they are; http(s) repositories are refused (they serve no digest to pin).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

import yaml

from ksbuild.charts.package import ChartError
from ksbuild.versioning import semver

LOCK_SECTION = "charts"
_REPOSITORY = re.compile(r"^oci://([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?)((/[a-z0-9]+([._-][a-z0-9]+)*)*)/?$")
_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    registry: str  # HOST[:PORT]
    path: str  # the repository path below the registry, the chart's name included

    @property
    def key(self) -> str:
        return f"oci://{self.registry}/{self.path}:{self.version}"

    @property
    def archive(self) -> str:
        return f"{self.name}-{self.version}.tgz"


def oci_dependencies(text: str, where: str) -> list[Dependency]:
    """The OCI dependencies Chart.yaml declares."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ChartError(f"{where}: not valid YAML: {err}") from None
    entries = data.get("dependencies") if isinstance(data, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ChartError(f"{where}: `dependencies` must be a list")
    found = []
    for index, entry in enumerate(entries):
        what = f"{where}: dependencies[{index}]"
        if not isinstance(entry, dict):
            raise ChartError(f"{what} is not a mapping")
        repository = str(entry.get("repository") or "")
        if not repository or repository.startswith("file://"):
            continue  # the chart's own charts/ content
        name, version = str(entry.get("name") or ""), str(entry.get("version") or "")
        match = _REPOSITORY.match(repository)
        if not match:
            raise ChartError(f"{what}: repository {repository!r} is not an OCI registry (oci://HOST[/PATH]): an "
                             "http(s) chart repository serves no digest to pin; push the chart to an OCI registry, "
                             "or vendor its .tgz into charts/ and drop `repository`")
        if not _NAME.match(name):
            raise ChartError(f"{what}: name {name!r} is not a chart name")
        if semver.parse(version.removeprefix("v")) is None:
            raise ChartError(f"{what}: version {version!r} is not one exact version (a range resolves to whatever is "
                             "newest): write the version to vendor, e.g. 1.2.3")
        path = (match.group(4).strip("/") + "/" + name).lstrip("/")
        found.append(Dependency(name, version, match.group(1), path))
    return found


def locked_digest(root: str, dep: Dependency, insecure: bool) -> str:
    """The manifest digest workspace.lock records for `dep`; resolved from its registry and recorded
    when the lock has none (the only time the tag is read)."""
    from ksbuild.loader.lockfile import read_section, write_section
    from ksbuild.registry.client import DIGEST, Registry
    from ksbuild.registry.errors import RegistryError

    entries = read_section(root, LOCK_SECTION)
    recorded = entries.get(dep.key)
    if recorded is not None:
        if not isinstance(recorded, str) or not DIGEST.match(recorded):
            raise ChartError(f"workspace.lock: charts: {dep.key}: {recorded!r} is not a sha256 digest (fix it, or "
                             "delete the entry to resolve the tag again)")
        return recorded
    try:
        with Registry(dep.registry, insecure=insecure) as registry:
            digest = registry.tagged(dep.path, dep.version.replace("+", "_"))
    except RegistryError as err:
        raise ChartError(f"chart dependency {dep.key}: {err}") from None
    if digest is None:
        raise ChartError(f"chart dependency {dep.key}: the registry has no such chart version")
    write_section(root, LOCK_SECTION, {**entries, dep.key: digest})
    return digest


def vendor(dep: dict, store: str, destination: str) -> None:
    """Fetch the locked dependency (a spec: name, version, registry, path, digest, insecure) into the
    store and copy its chart archive to `destination/NAME-VERSION.tgz`."""
    from ksbuild.charts.oci import HELM_CHART_LAYER, read_archive_metadata
    from ksbuild.images.layout import open_layout
    from ksbuild.images.oci import ImageError
    from ksbuild.registry.client import Registry
    from ksbuild.registry.errors import RegistryError
    from ksbuild.registry.fetch import fetch_image

    where = f"oci://{dep['registry']}/{dep['path']}:{dep['version']}@{dep['digest']}"
    try:
        with Registry(dep["registry"], insecure=dep["insecure"]) as registry:
            directory = fetch_image(registry, f"{dep['path']}@{dep['digest']}", store)
        layout = open_layout(directory)
        layers = [d for d in layout.manifest(layout.root).layers if d.media_type == HELM_CHART_LAYER]
        if len(layers) != 1:
            raise ChartError(f"{where}: not a Helm chart (no single {HELM_CHART_LAYER} layer)")
        source = layout.verified_path(layers[0])
    except (RegistryError, ImageError) as err:
        raise ChartError(f"chart dependency {where}: {err}") from None
    metadata = read_archive_metadata(source)
    if metadata.get("name") != dep["name"] or str(metadata.get("version")) != dep["version"]:
        raise ChartError(f"{where}: the archive is chart {metadata.get('name')} {metadata.get('version')}, not "
                         f"{dep['name']} {dep['version']}")
    os.makedirs(destination, exist_ok=True)
    target = os.path.join(destination, f"{dep['name']}-{dep['version']}.tgz")
    if os.path.exists(target):
        raise ChartError(f"charts/{os.path.basename(target)} is in the chart already and is also a dependency to "
                         "vendor: remove the committed file")
    shutil.copyfile(source, target)
