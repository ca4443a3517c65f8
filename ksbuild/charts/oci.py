"""Push a packaged chart (.tgz) to an OCI registry as `helm push` does, with immutable tags.

    result = push_chart(Registry("ghcr.io"), "org/charts/NAME", "out/NAME-1.2.3.tgz")
    result.status  # "pushed", or "unchanged" when the tag already names this very manifest

What is pushed, with Helm's media types (helm.sh/helm/v4 pkg/registry):
- config `application/vnd.cncf.helm.config.v1+json`: Chart.yaml's metadata as JSON, the bytes
  `helm push` writes (Go's `json.Marshal` of `chart.Metadata`: its field order, empty fields left
  out, `<`, `>` and `&` escaped), read from the archive's own `NAME/Chart.yaml`;
- one layer `application/vnd.cncf.helm.chart.content.v1.tar+gzip`: the .tgz as it is;
- an OCI image manifest (canonical JSON, `ksbuild.images.oci`) with the annotations Helm writes:
  `org.opencontainers.image.{title,version,description,url,source,authors}` and Chart.yaml's own
  annotations (never overriding title or version). `org.opencontainers.image.created` is the
  `created` argument when given (RFC 3339, e.g. from SOURCE_DATE_EPOCH via `created_from_epoch`)
  and left out otherwise, so the same chart always has the same manifest digest.

The tag is the chart's version (`+` written `_`, as Helm does). Order: the tag is looked up first;
if it names this manifest, nothing is sent ("unchanged"); if it names another, the push is refused
(tags are immutable: publish a new version) and nothing is sent; otherwise blobs go first and the
tag last, so a tag never names a chart whose parts are missing. Two pushers racing for one new tag
are not arbitrated (the distribution API has no compare-and-set).
"""
from __future__ import annotations

import hashlib
import json
import tarfile
import time
from dataclasses import dataclass
from typing import Any

import yaml

from ksbuild.images.manifest import image_manifest
from ksbuild.images.oci import OCI_MANIFEST, Descriptor, sha256_digest
from ksbuild.registry.client import TAG, Registry
from ksbuild.registry.errors import RegistryError
from ksbuild.charts.package import CHART_FILE, MAX_CHART_FILE, ChartError

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_ARCHIVE_ENTRIES = 10000
IMMUTABLE_ANNOTATIONS = ("org.opencontainers.image.version", "org.opencontainers.image.title")

# chart.Metadata's fields in Go's order, with their kinds (helm.sh/helm/v4/pkg/chart/v2/metadata.go)
_METADATA = (("name", str), ("home", str), ("sources", list), ("version", str), ("description", str),
             ("keywords", list), ("maintainers", "maintainers"), ("icon", str), ("apiVersion", str),
             ("condition", str), ("tags", str), ("appVersion", str), ("deprecated", bool),
             ("annotations", dict), ("kubeVersion", str), ("dependencies", "dependencies"), ("type", str))
_MAINTAINER = ("name", "email", "url")
# chart.Dependency: name and repository are written even when empty
_DEPENDENCY = (("name", str, True), ("version", str, False), ("repository", str, True), ("condition", str, False),
               ("tags", list, False), ("enabled", bool, False), ("import-values", list, False),
               ("alias", str, False))


@dataclass(frozen=True)
class ChartPushResult:
    registry: str
    repository: str
    tag: str
    digest: str  # the manifest's
    status: str  # "pushed" or "unchanged"
    uploaded: int  # blobs sent

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}@{self.digest}"


@dataclass(frozen=True)
class ChartManifest:
    """What a push sends: the config, the manifest and its digest, and the tag."""

    metadata: dict
    config: bytes
    layer: Descriptor
    manifest: bytes
    digest: str
    tag: str


def created_from_epoch(source_date_epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(source_date_epoch))


def chart_manifest(archive: str, created: str | None = None) -> ChartManifest:
    """The config and manifest `push_chart` sends for the .tgz at `archive`."""
    metadata = read_archive_metadata(archive)
    config = helm_config_json(metadata, archive)
    with open(archive, "rb") as handle:
        data_digest, size = _digest_file(handle)
    layer = Descriptor(HELM_CHART_LAYER, data_digest, size)
    annotations = chart_annotations(metadata, created)
    manifest, descriptor = image_manifest(Descriptor(HELM_CONFIG, sha256_digest(config), len(config)), [layer],
                                          annotations)
    tag = metadata["version"].replace("+", "_")
    if not TAG.match(tag):
        raise ChartError(f"{archive}: version {metadata['version']!r} is not usable as a tag")
    return ChartManifest(metadata, config, layer, manifest, descriptor.digest, tag)


def push_chart(registry: Registry, repository: str, archive: str, created: str | None = None) -> ChartPushResult:
    """Push the chart archive to `repository:VERSION` (see the module docstring)."""
    planned = chart_manifest(archive, created)
    existing = registry.tagged(repository, planned.tag)
    if existing is not None:
        if existing == planned.digest:
            return ChartPushResult(registry.host, repository, planned.tag, planned.digest, "unchanged", 0)
        raise RegistryError(registry.host, repository, f"pushing chart {archive}",
                            f"tag {planned.tag} already names {existing}, not this chart's {planned.digest}",
                            hint="tags are immutable: publish the change under a new version")
    uploaded = int(registry.push_blob(repository, planned.layer.digest, archive, planned.layer.size))
    config_digest = sha256_digest(planned.config)
    uploaded += registry.push_blob(repository, config_digest, planned.config, len(planned.config))
    registry.put_manifest(repository, planned.tag, planned.manifest, OCI_MANIFEST)
    return ChartPushResult(registry.host, repository, planned.tag, planned.digest, "pushed", uploaded)


def read_archive_metadata(archive: str) -> dict:
    """Chart.yaml of a chart archive (`NAME/Chart.yaml`), parsed, bounded and checked."""
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_ARCHIVE_ENTRIES:
                    break
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == CHART_FILE and member.isfile():
                    if member.size > MAX_CHART_FILE:
                        raise ChartError(f"{archive}: {member.name} is more than {MAX_CHART_FILE} bytes")
                    handle = tar.extractfile(member)
                    text = handle.read(MAX_CHART_FILE).decode("utf-8") if handle else ""
                    metadata = yaml.safe_load(text)
                    break
            else:
                metadata = None
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ChartError(f"{archive}: not a readable chart archive ({err.__class__.__name__}: {err})") from None
    if metadata is None:
        raise ChartError(f"{archive}: no NAME/{CHART_FILE} in the archive")
    if not isinstance(metadata, dict):
        raise ChartError(f"{archive}: {CHART_FILE} is not a mapping")
    for key in ("name", "version"):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            raise ChartError(f"{archive}: {CHART_FILE} has no string `{key}`")
    return metadata


def helm_config_json(metadata: dict, where: str = CHART_FILE) -> bytes:
    """The bytes `helm push` writes as the config: Go's json.Marshal of chart.Metadata."""
    value: dict[str, Any] = {}
    for key, kind in _METADATA:
        item = metadata.get(key)
        if item is None or item == "" or item is False or item == [] or item == {}:
            continue
        if kind == "maintainers":
            item = [_checked_object(m, _MAINTAINER, where, "maintainers") for m in _checked(item, list, where, key)]
        elif kind == "dependencies":
            item = [_dependency(d, where) for d in _checked(item, list, where, key)]
        elif kind is list and key in ("sources", "keywords"):
            item = [_checked(s, str, where, key) for s in _checked(item, list, where, key)]
        elif kind is dict:
            mapping = _checked(item, dict, where, key)
            item = {str(k): _checked(mapping[k], str, where, f"{key}.{k}") for k in sorted(mapping, key=str)}
        else:
            item = _checked(item, kind, where, key)
        value[key] = item
    return _go_json(value)


def chart_annotations(metadata: dict, created: str | None = None) -> dict[str, str]:
    """The manifest annotations Helm writes for the chart (see generateOCIAnnotations)."""
    found: dict[str, str] = {}

    def add(key: str, text: object) -> None:
        if isinstance(text, str) and text.strip():
            found[key] = text

    add("org.opencontainers.image.description", metadata.get("description"))
    add("org.opencontainers.image.title", metadata.get("name"))
    add("org.opencontainers.image.version", metadata.get("version"))
    add("org.opencontainers.image.url", metadata.get("home"))
    if created:
        add("org.opencontainers.image.created", created)
    sources = metadata.get("sources")
    if isinstance(sources, list) and sources:
        add("org.opencontainers.image.source", sources[0])
    maintainers = metadata.get("maintainers")
    if isinstance(maintainers, list) and maintainers:
        names = []
        for m in maintainers:
            m = m if isinstance(m, dict) else {}
            text = str(m.get("name") or "")
            if m.get("email"):
                text += f" ({m['email']})"
            names.append(text)
        add("org.opencontainers.image.authors", ", ".join(names))
    annotations = metadata.get("annotations")
    for key, text in (annotations.items() if isinstance(annotations, dict) else ()):
        if key not in IMMUTABLE_ANNOTATIONS and isinstance(key, str) and isinstance(text, str):
            found[key] = text
    return found


def _dependency(item: object, where: str) -> dict:
    item = _checked(item, dict, where, "dependencies")
    value: dict[str, Any] = {}
    for key, kind, always in _DEPENDENCY:
        got = item.get(key)
        if got is None or got == "" or got is False or got == []:
            if always:
                value[key] = ""
            continue
        value[key] = _sorted_maps(_checked(got, kind, where, f"dependencies.{key}"))
    return value


def _sorted_maps(item: Any) -> Any:
    """Maps with their keys sorted, as Go writes a map[string]any."""
    if isinstance(item, dict):
        return {str(k): _sorted_maps(item[k]) for k in sorted(item, key=str)}
    if isinstance(item, list):
        return [_sorted_maps(i) for i in item]
    return item


def _checked_object(item: object, keys: tuple[str, ...], where: str, field: str) -> dict:
    item = _checked(item, dict, where, field)
    return {k: _checked(item[k], str, where, f"{field}.{k}") for k in keys if item.get(k) not in (None, "")}


def _checked(item: Any, kind: type, where: str, field: str) -> Any:
    if not isinstance(item, kind) or (kind is not bool and isinstance(item, bool)):
        raise ChartError(f"{where}: {CHART_FILE} `{field}` is not a {kind.__name__} as Helm expects")
    return item


def _go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, map keys sorted (our dicts keep the struct's
    order where Go has a struct), and <, >, &, U+2028, U+2029 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for c, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(c, escaped)
    return text.encode("utf-8")


def _digest_file(handle) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return "sha256:" + digest.hexdigest(), size
