"""OCI image layout directories: `oci-layout`, `index.json` and `blobs/sha256/<hex>`.

`write_layout` makes a whole layout at once: it checks that every blob the root reaches is given
and is what its digest names, writes into a temporary directory beside the destination and renames
it into place, so a reader sees the old layout or the new one, never half of one. Its
`index.json` holds exactly the root's descriptor, in canonical JSON, and nothing that depends on
where the layout is: the same inputs give byte-identical directories anywhere.

A layout is read as untrusted input: `index.json` and `oci-layout` are bounded and checked, every
blob read is checked against its descriptor's size and digest, and blobs are opened without
following symbolic links.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from typing import Iterator, Mapping

from ksbuild.images.manifest import Index, Manifest, parse_index, parse_manifest
from ksbuild.images.oci import (CONFIG_TYPES, INDEX_TYPES, MANIFEST_TYPES, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE,
                                OCI_INDEX, Descriptor, ImageError, Platform, canonical_json, check_digest,
                                parse_json)

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
CHUNK = 1 << 20
REF_NAME = "org.opencontainers.image.ref.name"

Blob = bytes | str | os.PathLike


def blob_path(directory: str, digest: str) -> str:
    return os.path.join(directory, "blobs", "sha256", check_digest(digest, directory)[len("sha256:"):])


def write_layout(destination: str, root: Descriptor, blobs: Mapping[str, Blob]) -> Descriptor:
    """Write the layout whose index.json points at `root`; `blobs` maps each digest the root
    reaches to its bytes or its file. Blobs the root does not reach are not written."""
    needed = _reachable(root, blobs)
    destination = os.path.abspath(destination)
    parent, name = os.path.split(destination)
    os.makedirs(parent, exist_ok=True)
    temporary = os.path.join(parent, f".{name}.{secrets.token_hex(6)}.tmp")
    try:
        os.makedirs(os.path.join(temporary, "blobs", "sha256"))
        for descriptor in sorted(needed.values(), key=lambda d: d.digest):
            _write_blob(blob_path(temporary, descriptor.digest), blobs[descriptor.digest], descriptor)
        finish_layout(temporary, root)
        _swap(temporary, destination)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return root


def finish_layout(directory: str, root: Descriptor) -> None:
    """Write `oci-layout` and then `index.json` (pointing at `root`) into `directory`, each
    atomically; the blobs must be there already."""
    _write_atomically(os.path.join(directory, LAYOUT_FILE), canonical_json(LAYOUT_VERSION))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [root.to_json()]}
    _write_atomically(os.path.join(directory, INDEX_FILE), canonical_json(index))


def open_layout(directory: str, ref_name: str = "") -> "Layout":
    """The layout in `directory`, rooted at the single entry of its index.json (or, with
    `ref_name`, at the entry with that `org.opencontainers.image.ref.name`)."""
    where = os.path.join(directory, INDEX_FILE)
    layout_file = _read_file(os.path.join(directory, LAYOUT_FILE), 4096)
    version = parse_json(layout_file, os.path.join(directory, LAYOUT_FILE), 4096).get("imageLayoutVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise ImageError(f"{directory}: oci-layout says imageLayoutVersion {version!r}, not 1.x")
    index = parse_index(_read_file(where, MAX_MANIFEST_SIZE), OCI_INDEX, where)
    entries = [d for d in index.manifests if not ref_name or dict(d.annotations).get(REF_NAME) == ref_name]
    if len(entries) != 1:
        names = sorted(dict(d.annotations).get(REF_NAME, "?") for d in index.manifests)
        raise ImageError(f"{where}: {len(entries)} entries" + (f" named {ref_name!r}" if ref_name else "") +
                         f", expected exactly one (names: {', '.join(names) or 'none'})")
    return Layout(os.path.abspath(directory), entries[0])


def verify_layout(directory: str) -> "Layout":
    """Open the layout and check every blob its root reaches (size and digest)."""
    layout = open_layout(directory)
    for descriptor in layout.walk():
        layout.verified_path(descriptor)
    return layout


@dataclass(frozen=True)
class Layout:
    path: str
    root: Descriptor

    def blob_path(self, digest: str) -> str:
        return blob_path(self.path, digest)

    def read_blob(self, descriptor: Descriptor, limit: int) -> bytes:
        """The blob's bytes, checked against the descriptor; at most `limit` bytes."""
        where = self._where(descriptor)
        if descriptor.size > limit:
            raise ImageError(f"{where}: {descriptor.size} bytes, more than the {limit} allowed")
        data = _read_file(self.blob_path(descriptor.digest), descriptor.size)
        _check(data, descriptor, where)
        return data

    def verified_path(self, descriptor: Descriptor) -> str:
        """The blob's file, after checking its size and digest (for layers: read, not loaded)."""
        path = self.blob_path(descriptor.digest)
        hashed = hashlib.sha256()
        size = 0
        with _open_regular(path) as handle:
            while chunk := handle.read(CHUNK):
                size += len(chunk)
                if size > descriptor.size:
                    break
                hashed.update(chunk)
        if size != descriptor.size or "sha256:" + hashed.hexdigest() != descriptor.digest:
            raise ImageError(f"{self._where(descriptor)}: not the {descriptor.size} bytes its digest names")
        return path

    def manifest(self, descriptor: Descriptor) -> Manifest:
        return parse_manifest(self.read_blob(descriptor, MAX_MANIFEST_SIZE), descriptor.media_type,
                              self._where(descriptor))

    def index(self, descriptor: Descriptor) -> Index:
        return parse_index(self.read_blob(descriptor, MAX_MANIFEST_SIZE), descriptor.media_type,
                           self._where(descriptor))

    def config(self, descriptor: Descriptor) -> dict:
        if descriptor.media_type not in CONFIG_TYPES:
            raise ImageError(f"{self._where(descriptor)}: media type {descriptor.media_type!r} is not an image config")
        return parse_json(self.read_blob(descriptor, MAX_CONFIG_SIZE), self._where(descriptor), MAX_CONFIG_SIZE)

    def platform_manifest(self, platform: Platform) -> Descriptor:
        """The root's manifest for `platform` (the root itself when it is a single manifest for it)."""
        if self.root.media_type in MANIFEST_TYPES:
            config = self.config(self.manifest(self.root).config)
            found = Platform(str(config.get("os", "")), str(config.get("architecture", "")),
                             str(config.get("variant", "") or ""))
            if found.matches(platform):
                return self.root
            raise ImageError(f"{self.path}: the image is for {found} only, not {platform}")
        if self.root.media_type not in INDEX_TYPES:
            raise ImageError(f"{self.path}: its root is a {self.root.media_type!r}, not an image")
        children = self.index(self.root).manifests
        for child in children:
            if child.platform is not None and child.platform.matches(platform) and child.media_type in MANIFEST_TYPES:
                return child
        offered = sorted(str(c.platform) for c in children if c.platform is not None)
        raise ImageError(f"{self.path}: the image has no {platform} manifest (it has: {', '.join(offered) or 'none'})")

    def walk(self, descriptor: Descriptor | None = None) -> Iterator[Descriptor]:
        """Every descriptor the root (or `descriptor`) reaches, each once, a blob always before
        the manifest or index that points at it: the order a registry accepts them in."""
        seen: set[str] = set()

        def visit(d: Descriptor) -> Iterator[Descriptor]:
            if d.digest in seen:
                return
            seen.add(d.digest)
            if d.media_type in INDEX_TYPES:
                for child in self.index(d).manifests:
                    yield from visit(child)
            elif d.media_type in MANIFEST_TYPES:
                manifest = self.manifest(d)
                for blob in (manifest.config, *manifest.layers):
                    yield from visit(blob)
            yield d

        yield from visit(descriptor or self.root)

    def _where(self, descriptor: Descriptor) -> str:
        return f"{self.path}: blob {descriptor.digest}"


def _reachable(root: Descriptor, blobs: Mapping[str, Blob]) -> dict[str, Descriptor]:
    """Every descriptor the root reaches through the given blobs; a missing one is an error."""
    found: dict[str, Descriptor] = {}
    pending = [root]
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in found:
            continue
        if descriptor.digest not in blobs:
            raise ImageError(f"blob {descriptor.digest} ({descriptor.media_type}) is referenced but not given")
        found[descriptor.digest] = descriptor
        if descriptor.media_type in INDEX_TYPES or descriptor.media_type in MANIFEST_TYPES:
            data = _blob_bytes(blobs[descriptor.digest], MAX_MANIFEST_SIZE)
            _check(data, descriptor, f"blob {descriptor.digest}")
            if descriptor.media_type in INDEX_TYPES:
                pending += parse_index(data, descriptor.media_type, descriptor.digest).manifests
            else:
                manifest = parse_manifest(data, descriptor.media_type, descriptor.digest)
                pending += [manifest.config, *manifest.layers]
    return found


def _write_blob(path: str, blob: Blob, descriptor: Descriptor) -> None:
    hashed = hashlib.sha256()
    size = 0
    with open(path, "xb") as out:
        if isinstance(blob, bytes):
            out.write(blob)
            hashed.update(blob)
            size = len(blob)
        else:
            with _open_regular(os.fspath(blob)) as source:
                while chunk := source.read(CHUNK):
                    hashed.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
    if size != descriptor.size or "sha256:" + hashed.hexdigest() != descriptor.digest:
        raise ImageError(f"blob {descriptor.digest}: what was given is not the {descriptor.size} bytes "
                         "its digest names")


def _blob_bytes(blob: Blob, limit: int) -> bytes:
    return blob if isinstance(blob, bytes) else _read_file(os.fspath(blob), limit)


def _check(data: bytes, descriptor: Descriptor, where: str) -> None:
    if len(data) != descriptor.size or "sha256:" + hashlib.sha256(data).hexdigest() != descriptor.digest:
        raise ImageError(f"{where}: not the {descriptor.size} bytes its digest names")


def _open_regular(path: str):
    """A regular file opened for reading; a symbolic link, FIFO or directory is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise ImageError(f"{path}: {err.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ImageError(f"{path}: not a regular file")
    return os.fdopen(fd, "rb")


def _read_file(path: str, limit: int) -> bytes:
    with _open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ImageError(f"{path}: more than the {limit} bytes allowed")
    return data


def _write_atomically(path: str, data: bytes) -> None:
    temporary = f"{path}.{secrets.token_hex(6)}.tmp"
    with open(temporary, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def _swap(temporary: str, destination: str) -> None:
    """Put the new directory in the old one's place: the old one is moved aside first (a rename
    cannot replace a non-empty directory), then removed."""
    old = None
    if os.path.lexists(destination):
        old = f"{temporary}.old"
        os.rename(destination, old)
    try:
        os.rename(temporary, destination)
    except BaseException:
        if old is not None:
            os.rename(old, destination)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if os.path.isdir(old) else os.unlink(old)
