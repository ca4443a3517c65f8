"""Assemble an image: per platform, the base's layers and ours, a config and a manifest; over
them an index; all written as one OCI layout. The image's identity is the index's digest.

An image is always an index, even for one platform, so that what `go_image` publishes has one
shape. Nothing path- or time-dependent enters: the same layers, settings and base give the same
digest on any machine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ksbuild.images.base import BASE_DIGEST, load_base
from ksbuild.images.config import ImageSettings, image_config
from ksbuild.images.layer import Layer
from ksbuild.images.layout import Blob, write_layout
from ksbuild.images.manifest import config_descriptor, image_index, image_manifest
from ksbuild.images.oci import Descriptor, ImageError, Platform, canonical_json


@dataclass(frozen=True)
class PlatformLayers:
    """Our layers for one platform (written by `write_layer`), bottom first."""

    platform: Platform
    layers: tuple[Layer, ...]


def build_image(destination: str, images: Sequence[PlatformLayers], settings: ImageSettings,
                base: str | None = None) -> Descriptor:
    """Write the image to the OCI layout `destination` and return its index's descriptor.
    `base` is None for scratch, or the directory of an OCI layout holding the base image."""
    if not images:
        raise ImageError("an image needs at least one platform")
    blobs: dict[str, Blob] = {}
    manifests = []
    for item in images:
        layers = [layer.descriptor() for layer in item.layers]
        blobs.update((layer.digest, layer.path) for layer in item.layers)
        diff_ids = [layer.diff_id for layer in item.layers]
        annotations = {}
        if base is None:
            config = image_config(item.platform, diff_ids, settings)
        else:
            below = load_base(base, item.platform)
            config = image_config(item.platform, diff_ids, settings, below.config)
            layers = list(below.layers) + layers
            blobs.update(below.files)
            annotations[BASE_DIGEST] = below.manifest.digest
        config_data = canonical_json(config)
        config_ref = config_descriptor(config_data)
        blobs[config_ref.digest] = config_data
        manifest_data, manifest_ref = image_manifest(config_ref, layers, annotations)
        blobs[manifest_ref.digest] = manifest_data
        manifests.append(Descriptor(manifest_ref.media_type, manifest_ref.digest, manifest_ref.size,
                                    platform=item.platform))
    index_data, index_ref = image_index(manifests)
    blobs[index_ref.digest] = index_data
    return write_layout(destination, index_ref, blobs)
