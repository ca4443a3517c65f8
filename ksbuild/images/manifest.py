"""OCI image manifests and indexes: writing ours (canonical JSON, see `oci`), reading anyone's.

An image manifest is `application/vnd.oci.image.manifest.v1+json` with its config
`application/vnd.oci.image.config.v1+json` and layers `application/vnd.oci.image.layer.v1.tar+gzip`.
An index (`application/vnd.oci.image.index.v1+json`) lists one manifest per platform, sorted by
os, architecture and variant, so the order platforms are given in does not change its digest.

Reading accepts Docker's schema 2 manifest and manifest list too (a base image may be one), and
checks what it reads: schemaVersion 2, a mediaType (when present) that agrees with the one it
arrived as, valid descriptors, and bounded counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ksbuild.images.oci import (INDEX_TYPES, MANIFEST_TYPES, MAX_DESCRIPTORS, OCI_CONFIG, OCI_INDEX,
                                OCI_MANIFEST, Descriptor, ImageError, canonical_json, pairs, parse_json,
                                sha256_digest, string_pairs)


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()


def config_descriptor(data: bytes) -> Descriptor:
    return Descriptor(OCI_CONFIG, sha256_digest(data), len(data))


def image_manifest(config: Descriptor, layers: Sequence[Descriptor],
                   annotations: Mapping[str, str] | None = None) -> tuple[bytes, Descriptor]:
    """The manifest's bytes and the descriptor that points at them (without platform)."""
    value = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
             "layers": [layer.to_json() for layer in layers]}
    if annotations:
        value["annotations"] = dict(pairs(annotations))
    data = canonical_json(value)
    return data, Descriptor(OCI_MANIFEST, sha256_digest(data), len(data))


def image_index(manifests: Sequence[Descriptor],
                annotations: Mapping[str, str] | None = None) -> tuple[bytes, Descriptor]:
    """An index over per-platform manifests (each descriptor must carry its platform)."""
    if not manifests:
        raise ImageError("an image index needs at least one platform's manifest")
    seen = {}
    for descriptor in manifests:
        if descriptor.platform is None:
            raise ImageError(f"index entry {descriptor.digest}: no platform")
        if str(descriptor.platform) in seen:
            raise ImageError(f"platform {descriptor.platform} is given twice")
        seen[str(descriptor.platform)] = descriptor
    ordered = sorted(manifests, key=lambda d: d.platform)
    value = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d.to_json() for d in ordered]}
    if annotations:
        value["annotations"] = dict(pairs(annotations))
    data = canonical_json(value)
    return data, Descriptor(OCI_INDEX, sha256_digest(data), len(data))


def parse_manifest(data: bytes, media_type: str, where: str) -> Manifest:
    value = _document(data, media_type, MANIFEST_TYPES, where)
    config = Descriptor.from_json(value.get("config"), f"{where} config")
    layers = value.get("layers")
    if not isinstance(layers, list) or len(layers) > MAX_DESCRIPTORS:
        raise ImageError(f"{where}: layers is not a list of at most {MAX_DESCRIPTORS} descriptors")
    return Manifest(media_type, config,
                    tuple(Descriptor.from_json(item, f"{where} layer {n}") for n, item in enumerate(layers)),
                    string_pairs(value.get("annotations"), f"{where} annotations"))


def parse_index(data: bytes, media_type: str, where: str) -> Index:
    value = _document(data, media_type, INDEX_TYPES, where)
    manifests = value.get("manifests")
    if not isinstance(manifests, list) or len(manifests) > MAX_DESCRIPTORS:
        raise ImageError(f"{where}: manifests is not a list of at most {MAX_DESCRIPTORS} descriptors")
    return Index(media_type, tuple(Descriptor.from_json(item, f"{where} manifest {n}")
                                   for n, item in enumerate(manifests)),
                 string_pairs(value.get("annotations"), f"{where} annotations"))


def _document(data: bytes, media_type: str, allowed: tuple[str, ...], where: str) -> dict:
    if media_type not in allowed:
        raise ImageError(f"{where}: media type {media_type!r} is not one of {', '.join(allowed)}")
    value = parse_json(data, where)
    if value.get("schemaVersion") != 2:
        raise ImageError(f"{where}: schemaVersion is not 2")
    declared = value.get("mediaType")
    if declared is not None and declared != media_type:
        raise ImageError(f"{where}: it says it is {declared!r} but arrived as {media_type!r}")
    return value
