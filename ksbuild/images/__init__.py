"""Container images as build outputs: deterministic layers, OCI configs, manifests and indexes,
and OCI image layouts, in pure Python.

The narrow interface a rule uses:

    write_layer(files, source_date_epoch, destination) -> Layer      # layer.py
    build_image(destination, [PlatformLayers], ImageSettings, base=None) -> Descriptor  # image.py
    open_layout(directory) -> Layout / verify_layout(directory)      # layout.py

`oci` holds the data (media types, descriptors, platforms, canonical JSON), `config` and `manifest`
the documents, `base` reads a base image from a content-addressed store. Nothing here talks to a
registry: that is `ksbuild.registry`.
"""
from ksbuild.images.config import ImageSettings
from ksbuild.images.image import PlatformLayers, build_image
from ksbuild.images.layer import Layer, LayerFile, write_layer
from ksbuild.images.layout import Layout, open_layout, verify_layout, write_layout
from ksbuild.images.oci import Descriptor, ImageError, Platform

__all__ = ["Descriptor", "ImageError", "ImageSettings", "Layer", "LayerFile", "Layout", "Platform",
           "PlatformLayers", "build_image", "open_layout", "verify_layout", "write_layer", "write_layout"]
