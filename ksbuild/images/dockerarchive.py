"""An image a Docker-API engine built, as `docker save` gives it (a docker-archive: manifest.json,
the config, uncompressed layer tars), turned into an OCI image layout: each layer gzipped
deterministically, the config kept byte for byte (its diff_ids are the uncompressed layers'), a
manifest and a one-platform index."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile

from ksbuild.images.layer import COMPRESSLEVEL
from ksbuild.images.layout import write_layout
from ksbuild.images.manifest import config_descriptor, image_index, image_manifest
from ksbuild.images.oci import OCI_LAYER_GZIP, Descriptor, ImageError, Platform, parse_json

MAX_ARCHIVE_MEMBERS = 10_000


def archive_to_layout(archive: str, destination: str) -> Descriptor:
    """Write the docker-archive at `archive` as an OCI layout at `destination`; returns the index."""
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(prefix="ksbuild-archive-") as scratch:
        members = {m.name: m for m in tar.getmembers()[:MAX_ARCHIVE_MEMBERS] if m.isfile()}
        try:
            entries = json.loads(_read(tar, members, "manifest.json", 1 << 20))
        except ValueError:
            raise ImageError("docker archive: manifest.json is not JSON") from None
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
            raise ImageError("docker archive: manifest.json must name exactly one image")
        config_data = _read(tar, members, entries[0].get("Config", ""))
        config = parse_json(config_data, "docker archive config", 8 << 20)
        blobs: dict[str, bytes | str] = {}
        layers = []
        for index, name in enumerate(entries[0].get("Layers") or []):
            path = os.path.join(scratch, f"{index}.tar.gz")
            layers.append(_gzip_layer(tar, members, name, path))
            blobs[layers[-1].digest] = path
        config_ref = config_descriptor(config_data)
        blobs[config_ref.digest] = config_data
        manifest_data, manifest_ref = image_manifest(config_ref, layers)
        blobs[manifest_ref.digest] = manifest_data
        platform = Platform(config.get("os", "linux"), config.get("architecture", "amd64"), config.get("variant", ""))
        index_data, index_ref = image_index([Descriptor(manifest_ref.media_type, manifest_ref.digest,
                                                        manifest_ref.size, platform=platform)])
        blobs[index_ref.digest] = index_data
        return write_layout(destination, index_ref, blobs)


def _gzip_layer(tar: tarfile.TarFile, members: dict, name: str, destination: str) -> Descriptor:
    source = tar.extractfile(_member(members, name))
    digest = hashlib.sha256()
    with open(destination, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="", compresslevel=COMPRESSLEVEL) as out:
            shutil.copyfileobj(source, out)
    with open(destination, "rb") as handle:
        size = 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return Descriptor(OCI_LAYER_GZIP, "sha256:" + digest.hexdigest(), size)


def _member(members: dict, name: str) -> tarfile.TarInfo:
    if not isinstance(name, str) or name not in members:
        raise ImageError(f"docker archive: no file {name!r}")
    return members[name]


def _read(tar: tarfile.TarFile, members: dict, name: str, limit: int = 8 << 20) -> bytes:
    member = _member(members, name)
    if member.size > limit:
        raise ImageError(f"docker archive: {name} is larger than {limit} bytes")
    return tar.extractfile(member).read()
