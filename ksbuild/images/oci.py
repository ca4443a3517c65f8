"""OCI data without I/O: media types, platforms, descriptors, digests and canonical JSON.

Canonical JSON (every config, manifest, index and index.json ksbuild writes): keys sorted, no
whitespace (`","` and `":"` separators), UTF-8 with non-ASCII characters written as they are (not
`\\u` escapes), no trailing newline, integers only (a float is refused: its text is not stable
across writers). OCI does not require one serialization; choosing one makes the same image the
same bytes, and so the same digest, on every machine.

Reading is for hostile input: `parse_json` bounds the size, and `Descriptor.from_json` checks every
field's type, the digest's form and the size's range, so code past it can trust its data.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
LAYER_TYPES = (OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP)
# A Docker layer is the same bytes as an OCI one: an image built on a Docker base says OCI.
AS_OCI = {DOCKER_MANIFEST: OCI_MANIFEST, DOCKER_LIST: OCI_INDEX, DOCKER_CONFIG: OCI_CONFIG,
          DOCKER_LAYER_GZIP: OCI_LAYER_GZIP}

MAX_MANIFEST_SIZE = 4 * 2**20  # an index or manifest (the distribution spec's suggested limit)
MAX_CONFIG_SIZE = 8 * 2**20  # an image config (a long history makes it larger than a manifest)
MAX_BLOB_SIZE = 16 * 2**30  # a layer
MAX_DESCRIPTORS = 4096  # layers in a manifest, manifests in an index

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z")
_PLATFORM_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")


class ImageError(Exception):
    """An image or layout is wrong: bad input, a blob that is not what its digest names, a base
    without the platform asked for."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(value: object, where: str) -> str:
    """`value` if it is a `sha256:<64 lowercase hex>` digest (the only algorithm ksbuild accepts)."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ImageError(f"{where}: {_short(value)} is not a sha256 digest (sha256:<64 hex digits>)")
    return value


def canonical_json(value: Any) -> bytes:
    """The one serialization ksbuild writes (see the module docstring)."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def parse_json(data: bytes, where: str, limit: int = MAX_MANIFEST_SIZE) -> dict:
    """A JSON object from untrusted bytes, at most `limit` long."""
    if len(data) > limit:
        raise ImageError(f"{where}: {len(data)} bytes, more than the {limit} allowed")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ImageError(f"{where}: not JSON ({err.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise ImageError(f"{where}: not a JSON object")
    return value


@dataclass(frozen=True, order=True)
class Platform:
    """os/architecture[/variant], as in `linux/arm64` or `linux/arm/v7`."""

    os: str
    architecture: str
    variant: str = ""

    def __post_init__(self) -> None:
        for name in ("os", "architecture"):
            if not _PLATFORM_WORD.match(getattr(self, name)):
                raise ImageError(f"platform {_short(getattr(self, name))}: not an {name} name")
        if self.variant and not _PLATFORM_WORD.match(self.variant):
            raise ImageError(f"platform variant {_short(self.variant)}: not a variant name")

    @classmethod
    def parse(cls, text: str) -> "Platform":
        parts = text.split("/")
        if len(parts) not in (2, 3):
            raise ImageError(f"platform {_short(text)}: expected os/architecture[/variant], e.g. linux/arm64")
        return cls(*parts)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: "Platform") -> bool:
        """The same platform, reading arm64's missing variant as v8 (registries write both)."""
        return (self.os, self.architecture, self._variant()) == (other.os, other.architecture, other._variant())

    def _variant(self) -> str:
        return self.variant or ("v8" if self.architecture == "arm64" else "")

    def to_json(self) -> dict:
        value = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            value["variant"] = self.variant
        return value

    @classmethod
    def from_json(cls, value: object, where: str) -> "Platform":
        if not isinstance(value, dict):
            raise ImageError(f"{where}: platform is not an object")
        fields = [value.get("os"), value.get("architecture"), value.get("variant", "")]
        if not all(isinstance(f, str) for f in fields):
            raise ImageError(f"{where}: platform os, architecture and variant must be strings")
        return cls(*fields)


@dataclass(frozen=True)
class Descriptor:
    """What points at a blob: its media type, digest and size (plus platform and annotations in an
    index). `annotations` is a sorted tuple of pairs, so descriptors stay hashable."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict:
        value: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            value["platform"] = self.platform.to_json()
        if self.annotations:
            value["annotations"] = dict(self.annotations)
        return value

    @classmethod
    def from_json(cls, value: object, where: str) -> "Descriptor":
        if not isinstance(value, dict):
            raise ImageError(f"{where}: a descriptor is not an object")
        media_type, size = value.get("mediaType"), value.get("size")
        if not isinstance(media_type, str) or not _MEDIA_TYPE.match(media_type):
            raise ImageError(f"{where}: mediaType {_short(media_type)} is not a media type")
        digest = check_digest(value.get("digest"), where)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BLOB_SIZE:
            raise ImageError(f"{where}: size {_short(size)} is not a size between 0 and {MAX_BLOB_SIZE}")
        platform = Platform.from_json(value["platform"], where) if value.get("platform") is not None else None
        return cls(media_type, digest, size, platform, string_pairs(value.get("annotations"), f"{where} annotations"))


def string_pairs(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """A JSON object of strings (annotations, labels) as a sorted tuple of pairs."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ImageError(f"{where}: not an object of strings")
    return tuple(sorted(value.items()))


def pairs(mapping: Mapping[str, str] | tuple[tuple[str, str], ...] | None) -> tuple[tuple[str, str], ...]:
    """Friendly key/value input (a dict or pairs) as the sorted pairs frozen values hold."""
    items = mapping.items() if isinstance(mapping, Mapping) else (mapping or ())
    return tuple(sorted((str(k), str(v)) for k, v in items))


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise ImageError(f"canonical JSON holds integers only, not {value!r}")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def _short(value: object) -> str:
    """A value from untrusted input, made safe and short enough to print."""
    text = repr(value)
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= 80 else text[:77] + "..."
