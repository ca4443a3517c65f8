"""Fetch an image pinned by digest into a content-addressed store of OCI layouts.

    fetch_image(registry, "library/debian@sha256:<hex>", store)  ->  <store>/sha256/<hex>/

The store holds one OCI layout per root digest. Every manifest and blob is checked against its
digest (and size) as it arrives and is renamed into place only then; index.json is written last,
so a layout with an index.json is complete for what was asked. A second fetch of the same image
finds it there and asks the registry nothing.

A reference by tag alone is refused: a tag moves, and a build on it would not be reproducible.
`platforms` limits an index to those platforms' manifests (a base image of eight platforms, of
which a build uses two); such a layout serves as a base but is not a whole image to push again.
"""
from __future__ import annotations

import os
import secrets
from typing import Sequence

from ksbuild.images.layout import blob_path, finish_layout, open_layout
from ksbuild.images.manifest import parse_index, parse_manifest
from ksbuild.images.oci import INDEX_TYPES, MANIFEST_TYPES, Descriptor, ImageError, Platform
from ksbuild.registry.client import DIGEST, TAG, Registry
from ksbuild.registry.errors import RegistryError


def store_path(store: str, digest: str) -> str:
    return os.path.join(store, "sha256", digest[len("sha256:"):])


def fetch_image(registry: Registry, reference: str, store: str,
                platforms: Sequence[Platform] | None = None) -> str:
    """Fetch `REPOSITORY@sha256:...` (a `:tag` before the digest is allowed and ignored) into the
    store; return its layout's directory."""
    repository, digest = _pinned(registry, reference)
    directory = store_path(store, digest)
    if _complete(directory, digest, platforms):
        return directory
    os.makedirs(os.path.join(directory, "blobs", "sha256"), exist_ok=True)
    fetcher = _Fetcher(registry, repository, directory, platforms)
    try:
        root = fetcher.manifest(None, digest)
    except ImageError as err:
        raise RegistryError(registry.host, repository, f"fetching {digest}", str(err)) from None
    finish_layout(directory, root)
    return directory


class _Fetcher:
    def __init__(self, registry: Registry, repository: str, directory: str, platforms):
        self.registry, self.repository, self.directory, self.platforms = registry, repository, directory, platforms

    def manifest(self, descriptor: Descriptor | None, digest: str) -> Descriptor:
        """Fetch a manifest or index (and what it points at); its descriptor."""
        reply = self.registry.get_manifest(self.repository, digest)  # checked against the digest
        where = f"{self.registry.host}/{self.repository}@{digest}"
        if descriptor is not None and (descriptor.size != len(reply.data) or descriptor.media_type != reply.media_type):
            raise ImageError(f"{where}: the registry sent a {reply.media_type} of {len(reply.data)} bytes, "
                             f"the index says a {descriptor.media_type} of {descriptor.size}")
        if reply.media_type in INDEX_TYPES:
            for child in parse_index(reply.data, reply.media_type, where).manifests:
                if child.media_type not in INDEX_TYPES + MANIFEST_TYPES:
                    continue  # an artifact hung on the index, not part of the image
                if self._wanted(child):
                    self.manifest(child, child.digest)
        else:
            manifest = parse_manifest(reply.data, reply.media_type, where)
            for blob in (manifest.config, *manifest.layers):
                self.blob(blob)
        self._write(digest, reply.data)
        return Descriptor(reply.media_type, digest, len(reply.data))

    def _wanted(self, child: Descriptor) -> bool:
        if self.platforms is None:
            return True
        if child.platform is None:
            return child.media_type in INDEX_TYPES  # a nested index: its platforms are inside
        return any(child.platform.matches(p) for p in self.platforms)

    def blob(self, descriptor: Descriptor) -> None:
        path = blob_path(self.directory, descriptor.digest)
        if os.path.isfile(path) and os.path.getsize(path) == descriptor.size:
            return  # in the store already: only complete, checked blobs are ever renamed into place
        self.registry.get_blob(self.repository, descriptor.digest, path, descriptor.size)

    def _write(self, digest: str, data: bytes) -> None:
        path = blob_path(self.directory, digest)
        temporary = f"{path}.{secrets.token_hex(6)}.tmp"
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, path)


def _pinned(registry: Registry, reference: str) -> tuple[str, str]:
    """(repository, digest) of `REPOSITORY[:TAG]@sha256:...`."""
    name, at, digest = reference.partition("@")
    repository, colon, tag = name.rpartition(":")
    if not (colon and TAG.match(tag) and "/" not in tag):
        repository = name
    if not at:
        raise RegistryError(registry.host, repository, f"fetching {reference}",
                            "a reference by tag alone is refused: a tag can move, so a build on it is not reproducible",
                            hint=f"pin it by digest: {repository}@sha256:<digest> (`skopeo inspect --raw "
                                 f"docker://{registry.host}/{name} | sha256sum` gives it)")
    if not DIGEST.match(digest):
        raise RegistryError(registry.host, repository, f"fetching {reference}", f"{digest!r} is not a sha256 digest")
    return repository, digest


def _complete(directory: str, digest: str, platforms) -> bool:
    """The store already holds this image (for these platforms): its index.json names the digest
    and every blob needed is there at its size."""
    if not os.path.isfile(os.path.join(directory, "index.json")):
        return False
    try:
        layout = open_layout(directory)
        if layout.root.digest != digest:
            return False
        roots = [layout.root] if platforms is None or layout.root.media_type in MANIFEST_TYPES else \
            [layout.platform_manifest(p) for p in platforms]
        for root in roots:
            for descriptor in layout.walk(root):
                path = layout.blob_path(descriptor.digest)
                if not os.path.isfile(path) or os.path.getsize(path) != descriptor.size:
                    return False
    except (ImageError, OSError):
        return False
    return True
