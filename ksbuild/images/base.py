"""The image we build on: scratch (nothing), or an image already in a content-addressed store as
an OCI layout (put there by `ksbuild.registry.fetch`, pinned by digest).

From the layout we take the manifest for the platform being built, its config and its layers,
each checked against its digest as it is read. Docker-typed layers are the same bytes as OCI
ones and are listed as OCI layers; a layer of any other kind (a Windows foreign layer, an
artifact) is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ksbuild.images.config import check_base_platform
from ksbuild.images.layout import open_layout
from ksbuild.images.oci import AS_OCI, LAYER_TYPES, Descriptor, ImageError, Platform

BASE_DIGEST = "org.opencontainers.image.base.digest"


@dataclass(frozen=True)
class BaseImage:
    """One platform of a base image: its manifest's descriptor, its parsed config, its layers
    (OCI-typed) and the checked file of each layer blob."""

    manifest: Descriptor
    config: Mapping[str, Any]
    layers: tuple[Descriptor, ...]
    files: tuple[tuple[str, str], ...]  # (digest, path)


def load_base(layout_dir: str, platform: Platform) -> BaseImage:
    """The base image in the layout `layout_dir`, for `platform`."""
    layout = open_layout(layout_dir)
    descriptor = layout.platform_manifest(platform)
    manifest = layout.manifest(descriptor)
    config = layout.config(manifest.config)
    check_base_platform(config, platform, f"{layout_dir}: {descriptor.digest}")
    layers = []
    for layer in manifest.layers:
        if layer.media_type not in LAYER_TYPES:
            raise ImageError(f"{layout_dir}: layer {layer.digest} is a {layer.media_type!r}, which ksbuild "
                             f"cannot build on (expected one of {', '.join(LAYER_TYPES)})")
        layers.append(Descriptor(AS_OCI.get(layer.media_type, layer.media_type), layer.digest, layer.size,
                                 annotations=layer.annotations))
    files = tuple((layer.digest, layout.verified_path(layer)) for layer in manifest.layers)
    ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config.get("rootfs"), dict) else None
    if not isinstance(ids, list) or len(ids) != len(layers):
        raise ImageError(f"{layout_dir}: {descriptor.digest}: its config lists "
                         f"{len(ids) if isinstance(ids, list) else 'no'} diff_ids for {len(layers)} layers")
    return BaseImage(Descriptor(descriptor.media_type, descriptor.digest, descriptor.size), config,
                     tuple(layers), files)
