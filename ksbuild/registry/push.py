"""Push an image held in an OCI layout to `repository:tag`, in the only safe order:

1. every blob (configs and layers), each after a HEAD that skips it when the registry has it, so
   a second push of the same image uploads nothing;
2. every platform's manifest, by digest;
3. the root (the index, or a single manifest) under the tag, last: a tag never points at an image
   whose parts are not all there, and an interrupted push leaves nothing tagged.

Each blob is read from the layout checked against its digest first (a corrupt layout is an
ImageError, and nothing of it is tagged).
"""
from __future__ import annotations

from dataclasses import dataclass

from ksbuild.images.layout import open_layout
from ksbuild.images.oci import INDEX_TYPES, MANIFEST_TYPES, MAX_MANIFEST_SIZE
from ksbuild.registry.client import TAG, Registry
from ksbuild.registry.errors import RegistryError


@dataclass(frozen=True)
class PushResult:
    registry: str
    repository: str
    tag: str
    digest: str  # the root's: what `repository@digest` pins
    media_type: str
    uploaded: int  # blobs sent
    existing: int  # blobs the registry had already
    uploaded_bytes: int

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}@{self.digest}"


def push_layout(registry: Registry, repository: str, tag: str, layout_dir: str) -> PushResult:
    """Push the image of the layout in `layout_dir` (its index.json's single entry)."""
    if not isinstance(tag, str) or not TAG.match(tag):
        raise RegistryError(registry.host, repository, f"pushing {layout_dir}",
                            f"{tag!r} is not a tag ([A-Za-z0-9_][A-Za-z0-9._-], at most 128 characters)")
    layout = open_layout(layout_dir)
    everything = list(layout.walk())  # what points at a blob comes after it; the root last
    manifests = [d for d in everything if d.media_type in INDEX_TYPES or d.media_type in MANIFEST_TYPES]
    uploaded = existing = uploaded_bytes = 0
    for descriptor in everything:
        if descriptor in manifests:
            continue
        if registry.push_blob(repository, descriptor.digest, layout.verified_path(descriptor), descriptor.size):
            uploaded += 1
            uploaded_bytes += descriptor.size
        else:
            existing += 1
    for descriptor in manifests:
        data = layout.read_blob(descriptor, MAX_MANIFEST_SIZE)
        reference = tag if descriptor.digest == layout.root.digest else descriptor.digest
        registry.put_manifest(repository, reference, data, descriptor.media_type)
    return PushResult(registry.host, repository, tag, layout.root.digest, layout.root.media_type,
                      uploaded, existing, uploaded_bytes)
