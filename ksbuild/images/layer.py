"""A deterministic image layer: the same files give the same bytes, wherever and whenever.

Entries are sorted by path and every parent directory is added (mode 0755); every entry is owned
by 0:0 with empty user and group names and has mtime `source_date_epoch`; the tar is PAX format
(plain USTAR headers unless a path needs more: a long or non-ASCII name); the gzip stream has mtime
0, no file name and compression level 6. What varies on disk (the file's own mtime, owner, inode,
the directory it sits in) never reaches the layer; only the path in the image, the content and the
mode given do.

The compressed bytes also depend on the zlib of the machine; the diff_id (the uncompressed tar's
digest) does not.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import secrets
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterable

from ksbuild.images.oci import OCI_LAYER_GZIP, Descriptor, ImageError

COMPRESSLEVEL = 6
DIR_MODE = 0o755
MAX_EPOCH = 8**11 - 1  # what a USTAR mtime field holds (year 2242)


@dataclass(frozen=True)
class LayerFile:
    """One file of a layer: where it goes in the image, where its content comes from (a path on
    disk, read when the layer is written, or the bytes themselves), and its mode."""

    path: str
    source: str | bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Layer:
    """A written layer: its compressed blob's digest and size, its diff_id (the uncompressed
    tar's digest, which the image config lists) and the blob's file."""

    digest: str
    size: int
    diff_id: str
    path: str

    def descriptor(self) -> Descriptor:
        return Descriptor(OCI_LAYER_GZIP, self.digest, self.size)


def write_layer(files: Iterable[LayerFile], source_date_epoch: int, destination: str) -> Layer:
    """Write the layer's gzipped tar to `destination` (atomically: a temporary file beside it,
    renamed into place) and return its digests."""
    if not isinstance(source_date_epoch, int) or isinstance(source_date_epoch, bool) \
            or not 0 <= source_date_epoch <= MAX_EPOCH:
        raise ImageError(f"source_date_epoch {source_date_epoch!r}: expected an integer of seconds "
                         f"between 0 and {MAX_EPOCH}")
    entries = _entries(files)
    directory = os.path.dirname(os.path.abspath(destination))
    temporary = os.path.join(directory, f".{os.path.basename(destination)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "wb") as out:
            compressed = _Hashing(out)
            with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="",
                               compresslevel=COMPRESSLEVEL) as zipped:
                plain = _Hashing(zipped)
                with tarfile.TarFile(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT,
                                     encoding="utf-8") as tar:
                    for path, source, mode in entries:
                        _add(tar, path, source, mode, source_date_epoch)
        os.replace(temporary, destination)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return Layer("sha256:" + compressed.hash.hexdigest(), compressed.size,
                 "sha256:" + plain.hash.hexdigest(), destination)


def image_path(path: str) -> str:
    """A path in the image, normalized (`/usr/bin/x` and `usr//bin/./x` are `usr/bin/x`); a path
    that leaves the root or names the root is refused."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise ImageError(f"layer path {path!r}: expected a non-empty path in the image")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ImageError(f"layer path {path!r}: must name a file below the image's root, without '..'")
    return posixpath.join(*parts)


def _entries(files: Iterable[LayerFile]) -> list[tuple[str, str | bytes | None, int]]:
    """(path, source, mode) sorted by path, with parents (source None) added."""
    found: dict[str, tuple[str | bytes | None, int]] = {}
    for item in files:
        path = image_path(item.path)
        if not isinstance(item.mode, int) or isinstance(item.mode, bool) or not 0 <= item.mode <= 0o7777:
            raise ImageError(f"layer path {item.path!r}: mode {item.mode!r} is not a permission mode (0 to 0o7777)")
        if not isinstance(item.source, (str, bytes)):
            raise ImageError(f"layer path {item.path!r}: source must be a file's path or bytes")
        if path in found:
            raise ImageError(f"layer path {path!r} is given twice")
        found[path] = (item.source, item.mode)
    for path in list(found):
        parent = posixpath.dirname(path)
        while parent:
            if parent in found and found[parent][0] is not None:
                raise ImageError(f"layer path {parent!r} is a file and the directory of {path!r}")
            found.setdefault(parent, (None, DIR_MODE))
            parent = posixpath.dirname(parent)
    return [(path, *found[path]) for path in sorted(found)]


def _add(tar: tarfile.TarFile, path: str, source: str | bytes | None, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(path)
    info.mode, info.mtime = mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if source is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif isinstance(source, bytes):
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
    else:
        with open(source, "rb") as handle:
            info.size = os.fstat(handle.fileno()).st_size
            tar.addfile(info, handle)  # a file that shrinks meanwhile is an error, not a short entry


class _Hashing:
    """A writer that hashes and counts what passes through it (tarfile asks where it is)."""

    def __init__(self, out: BinaryIO | gzip.GzipFile):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()
