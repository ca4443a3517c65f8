"""A client of the OCI distribution API (`/v2/...`), shared by image pushes, base-image fetches
and, later, chart pushes. Standard library only.

    registry = Registry("ghcr.io")                      # HTTPS; credentials from the environment
    registry = Registry("127.0.0.1:5000", insecure=True)  # plain HTTP: only for registries marked insecure
    registry.push_blob(repo, digest, path_or_bytes, size)  # HEAD first: a blob already there is not sent
    registry.put_manifest(repo, tag_or_digest, data, media_type)

Credentials: see `ksbuild.registry.auth` (KSBUILD_REGISTRY_AUTH_<HOST>=USER:PASSWORD; anonymous
when unset; basic and bearer-token challenges are answered).

Uploads: POST /v2/<repo>/blobs/uploads/, then one PUT ?digest= with the whole blob, or, for a blob
over `monolithic_limit`, PATCHes of `chunk_size` bytes with Content-Range and a closing PUT
?digest=. Each Location the registry answers (absolute or relative) is resolved against the URL of
the request that got it; one that would downgrade HTTPS to HTTP is refused, and credentials go
only to the registry's own origin.

Replies are untrusted: a manifest over 4 MiB, a Content-Length over what is expected or other than
the descriptor's size, a body longer than declared, bytes that are not what their digest names,
or a Docker-Content-Digest that disagrees with the bytes: each is a RegistryError, as is every
refusal and every network failure, with the registry, repository, action, HTTP status and the
registry's error code in its message. Every request has a timeout and a deadline (see `transport`).

A Registry keeps connections for reuse and is meant for one thread; make one per thread.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator
from urllib.parse import quote, urljoin, urlsplit

from ksbuild.images.oci import INDEX_TYPES, MANIFEST_TYPES, MAX_BLOB_SIZE, MAX_MANIFEST_SIZE
from ksbuild.registry.auth import Authenticator, Credentials, credentials_from_env
from ksbuild.registry.errors import Failure, RegistryError, printable
from ksbuild.registry.transport import Reply, Transport, origin, shown

FROM_ENV = "env"
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
ERROR_BODY_LIMIT = 64 * 1024
MAX_TAGS_REPLY = 4 * 2**20
MAX_TAG_PAGES = 100
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5

_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")
# Safe in a URL path; the registry judges the rest (the spec's grammar is lower case only).
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*\Z")
_SPEC_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\Z")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class ManifestReply:
    data: bytes
    media_type: str
    digest: str


class Registry:
    def __init__(self, host: str, insecure: bool = False, auth: Credentials | None | str = FROM_ENV,
                 timeout: float = 30.0, monolithic_limit: int = 64 * 2**20, chunk_size: int = 16 * 2**20):
        if not isinstance(host, str) or not _HOST.match(host):
            raise RegistryError(printable(host), "", "connecting",
                                "not a registry host (HOST or HOST:PORT, without a scheme or a path)")
        self.host = host
        self.insecure = insecure
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.monolithic_limit = monolithic_limit
        self.chunk_size = chunk_size
        self.requests: collections.Counter[str] = collections.Counter()  # by method, for tests and reports
        self._transport = Transport(timeout)
        try:
            credentials = credentials_from_env(host) if auth == FROM_ENV else auth
        except Failure as failure:
            raise RegistryError(host, "", "reading credentials", failure.reason) from None
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError("auth must be Credentials, None (anonymous) or FROM_ENV")
        self._auth = Authenticator(host, insecure, credentials, self._transport)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # blobs -------------------------------------------------------------------------------------
    def has_blob(self, repository: str, digest: str, push: bool = False) -> bool:
        """Whether the repository holds the blob. `push` asks with a push token, as an upload will
        (one token for the whole push; some registries refuse a pull token on a new repository)."""
        path = f"/v2/{self._repository(repository)}/blobs/{self._digest(digest, repository)}"
        with self._exchange(f"checking blob {digest}", repository, "HEAD", path, push=push, ok=(200,),
                            missing=True, follow=True) as reply:
            return reply.status == 200

    def push_blob(self, repository: str, digest: str, source: bytes | str | os.PathLike, size: int) -> bool:
        """Upload the blob unless the registry has it; True when it was uploaded."""
        action = f"uploading blob {digest}"
        if self.has_blob(repository, digest, push=True):
            return False
        actual = len(source) if isinstance(source, bytes) else os.stat(source).st_size
        if actual != size:
            raise RegistryError(self.host, repository, action,
                                f"the blob holds {actual} bytes, not the {size} declared")
        start = f"{self.base}/v2/{self._repository(repository)}/blobs/uploads/"
        with self._exchange(action, repository, "POST", start, push=True, ok=(202,)) as reply:
            location = self._location(reply, action, repository)
        if size <= self.monolithic_limit:
            put = _with_digest(location, digest)
            with self._exchange(action, repository, "PUT", put, push=True, body=_opener(source, 0, size),
                                length=size, headers={"Content-Type": "application/octet-stream"},
                                ok=(201,)) as reply:
                self._check_stored(reply, digest, action, repository)
            return True
        offset = 0
        while offset < size:
            length = min(self.chunk_size, size - offset)
            headers = {"Content-Type": "application/octet-stream",
                       "Content-Range": f"{offset}-{offset + length - 1}"}
            with self._exchange(action, repository, "PATCH", location, push=True,
                                body=_opener(source, offset, length), length=length, headers=headers,
                                ok=(202,)) as reply:
                received = reply.header("Range")
                location = self._location(reply, action, repository)
            if received and received != f"0-{offset + length - 1}":
                raise RegistryError(self.host, repository, action, f"the registry has bytes {printable(received)} "
                                    f"after sending up to {offset + length - 1}")
            offset += length
        with self._exchange(action, repository, "PUT", _with_digest(location, digest), push=True, body=b"",
                            ok=(201,)) as reply:
            self._check_stored(reply, digest, action, repository)
        return True

    def get_blob(self, repository: str, digest: str, destination: str, size: int | None = None,
                 limit: int = MAX_BLOB_SIZE) -> int:
        """Download the blob into `destination` (atomically), checking its size (when given) and
        digest as it streams; return its size."""
        action = f"downloading blob {digest}"
        path = f"/v2/{self._repository(repository)}/blobs/{self._digest(digest, repository)}"
        bound = limit if size is None else min(size, limit)
        if size is not None and size > limit:
            raise RegistryError(self.host, repository, action, f"{size} bytes is more than the {limit} allowed")
        temporary = f"{destination}.{secrets.token_hex(6)}.tmp"
        try:
            # the deadline follows the size; without one, only the limit and the per-read timeout bound it
            with self._exchange(action, repository, "GET", path, expected=bound, follow=True) as reply:
                reply.check_length(bound, size)
                with open(temporary, "wb") as out:
                    total, got = reply.stream(out.write, bound)
            if size is not None and total != size:
                raise RegistryError(self.host, repository, action, f"the registry sent {total} bytes, not {size}")
            if got != digest:
                raise RegistryError(self.host, repository, action, f"the registry sent bytes whose digest is {got}")
            os.replace(temporary, destination)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return total

    # manifests and tags ------------------------------------------------------------------------
    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        """Store a manifest or index under a tag or its digest; return its digest."""
        action = f"putting manifest {reference}"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._reference(reference, repository)
        if DIGEST.match(reference) and reference != digest:
            raise RegistryError(self.host, repository, action, f"the manifest's digest is {digest}")
        if len(data) > MAX_MANIFEST_SIZE:
            raise RegistryError(self.host, repository, action,
                                f"{len(data)} bytes, more than the {MAX_MANIFEST_SIZE} a registry must accept")
        path = f"/v2/{self._repository(repository)}/manifests/{reference}"
        with self._exchange(action, repository, "PUT", path, push=True, body=data,
                            headers={"Content-Type": media_type}, ok=(201,)) as reply:
            self._check_stored(reply, digest, action, repository)
        return digest

    def get_manifest(self, repository: str, reference: str, accept: str = ACCEPT) -> ManifestReply:
        """A manifest or index by tag or digest: its bytes, media type and digest. By digest, the
        bytes must be what it names; either way a Docker-Content-Digest must agree with them."""
        action = f"getting manifest {reference}"
        path = f"/v2/{self._repository(repository)}/manifests/{self._reference(reference, repository)}"
        with self._exchange(action, repository, "GET", path, headers={"Accept": accept}, follow=True,
                            expected=MAX_MANIFEST_SIZE) as reply:
            data = reply.read_bounded(MAX_MANIFEST_SIZE)
            claimed = reply.header("Docker-Content-Digest")
            content_type = reply.header("Content-Type").split(";")[0].strip()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if DIGEST.match(reference) and digest != reference:
            raise RegistryError(self.host, repository, action, f"the registry sent bytes whose digest is {digest}")
        if claimed and claimed != digest:
            raise RegistryError(self.host, repository, action,
                                f"its Docker-Content-Digest {printable(claimed)} is not the bytes' digest {digest}")
        try:
            declared = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            raise RegistryError(self.host, repository, action, "the manifest is not a JSON object") from None
        media_type = declared if isinstance(declared, str) and declared else content_type
        if media_type not in INDEX_TYPES + MANIFEST_TYPES:
            raise RegistryError(self.host, repository, action,
                                f"media type {printable(media_type)!r} is not an image manifest or index")
        return ManifestReply(data, media_type, digest)

    def tagged(self, repository: str, tag: str) -> str | None:
        """The digest the tag names, or None when the registry has no such tag (or repository)."""
        try:
            return self.get_manifest(repository, tag).digest
        except RegistryError as err:
            if err.status == 404:
                return None
            raise

    def tags(self, repository: str) -> list[str]:
        """Every tag of the repository ([] when the registry says it does not know the repository:
        NAME_UNKNOWN)."""
        action = "listing tags"
        url = f"{self.base}/v2/{self._repository(repository)}/tags/list"
        found: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            try:
                with self._exchange(action, repository, "GET", url, follow=True) as reply:
                    data = reply.read_bounded(MAX_TAGS_REPLY)
                    link = reply.header("Link")
            except RegistryError as err:
                if err.status == 404 and err.code == "NAME_UNKNOWN" and not found:
                    return []
                raise
            try:
                tags = json.loads(data).get("tags") or []
            except (ValueError, AttributeError):
                tags = None
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise RegistryError(self.host, repository, action, "the reply is not a tag list")
            found += tags
            following = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', link)
            if not following:
                return found
            url = self._resolve(url, following.group(1), action, repository)
        raise RegistryError(self.host, repository, action, f"more than {MAX_TAG_PAGES} pages of tags")

    # plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _exchange(self, action: str, repository: str, method: str, target: str, *, push: bool = False,
                  headers: dict[str, str] | None = None, body: bytes | Callable[[], BinaryIO] | None = None,
                  length: int | None = None, expected: int = 0, ok: tuple[int, ...] = (200,),
                  missing: bool = False, follow: bool = False) -> Iterator[Reply]:
        """One request (answering one auth challenge and following redirects where allowed);
        yields a reply whose status is in `ok` (or 404 with `missing`), raises RegistryError
        otherwise."""
        scope = f"repository:{repository}:pull" + (",push" if push else "")
        url = target if "://" in target else self.base + target
        answered = False
        for _ in range(MAX_REDIRECTS + 2):
            sent = dict(headers or {})
            own = origin(url) == origin(self.base)
            if own and (authorization := self._auth.header(scope)):
                sent["Authorization"] = authorization
            stream = body() if callable(body) else body
            try:
                with self._transport.request(method, url, sent, stream, length, expected) as reply:
                    self.requests[method] += 1
                    if reply.status == 401 and own and not answered:
                        answered = True
                        refusal = self._refusal(action, repository, reply, push)
                        if self._auth.answer(reply.header("WWW-Authenticate"), scope):
                            continue
                        raise refusal
                    if follow and reply.status in REDIRECTS:
                        location = reply.header("Location")
                        reply.discard()
                        url = self._resolve(url, location, action, repository)
                        continue
                    if reply.status in ok or (missing and reply.status == 404):
                        yield reply
                        return
                    raise self._refusal(action, repository, reply, push)
            except Failure as failure:
                raise RegistryError(self.host, repository, action, failure.reason, hint=failure.hint) from None
            finally:
                if stream is not None and not isinstance(stream, bytes):
                    stream.close()
        raise RegistryError(self.host, repository, action, f"more than {MAX_REDIRECTS} redirects")

    def _refusal(self, action: str, repository: str, reply: Reply, push: bool) -> RegistryError:
        try:
            body = reply.read_bounded(ERROR_BODY_LIMIT)
        except Failure:
            body = b""
        code, message = _error_body(body)
        reason = f"HTTP {reply.status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
        hint = ""
        if reply.status == 401:
            hint = self._auth.hint()
        elif reply.status == 403:
            hint = f"the registry does not allow these credentials to {'push to' if push else 'pull from'} it; " \
                   + self._auth.hint()
        elif reply.status in (400, 404) and not _SPEC_REPOSITORY.match(repository):
            hint = ("a repository name is lower-case letters and digits, separated by '.', '_', '__', '-' "
                    "or '/': the registry may refuse this one")
        elif reply.status == 429 or reply.status >= 500:
            hint = "the registry is overloaded or failing: try again later"
        return RegistryError(self.host, repository, action, reason, status=reply.status, code=code, hint=hint)

    def _location(self, reply: Reply, action: str, repository: str) -> str:
        location = reply.header("Location")
        if not location:
            raise RegistryError(self.host, repository, action, "the registry gave no Location for the upload")
        return self._resolve(reply.url, location, action, repository)

    def _resolve(self, current: str, location: str, action: str, repository: str) -> str:
        """A Location (absolute, or relative to the request that got it) as an absolute URL."""
        resolved = urljoin(current, location.strip())
        scheme = urlsplit(resolved).scheme
        if scheme not in ("http", "https") or (scheme == "http" and urlsplit(current).scheme == "https"):
            raise RegistryError(self.host, repository, action,
                                f"the registry sent the client to {shown(resolved)}, which is not HTTPS")
        return resolved

    def _check_stored(self, reply: Reply, digest: str, action: str, repository: str) -> None:
        stored = reply.header("Docker-Content-Digest")
        if stored and stored != digest:
            raise RegistryError(self.host, repository, action,
                                f"the registry says it stored {printable(stored)}, not {digest}")

    def _repository(self, repository: str) -> str:
        if not isinstance(repository, str) or not _REPOSITORY.match(repository) or \
                any(part in (".", "..") for part in repository.split("/")) or len(repository) > 255:
            raise RegistryError(self.host, printable(repository), "naming a repository",
                                "not a repository name (letters, digits, '.', '_', '-', separated by '/')")
        return repository

    def _digest(self, digest: str, repository: str) -> str:
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise RegistryError(self.host, repository, "naming a blob", f"{printable(digest)!r} is not a sha256 digest")
        return digest

    def _reference(self, reference: str, repository: str) -> str:
        if not isinstance(reference, str) or not (TAG.match(reference) or DIGEST.match(reference)):
            raise RegistryError(self.host, repository, "naming a manifest",
                                f"{printable(reference)!r} is neither a tag nor a sha256 digest")
        return reference


def _with_digest(url: str, digest: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + "digest=" + quote(digest, safe=":")


def _opener(source: bytes | str | os.PathLike, offset: int, length: int) -> bytes | Callable[[], BinaryIO]:
    """The body of an upload: bytes as they are, a file as a fresh stream of its slice per try."""
    if isinstance(source, bytes):
        return source[offset:offset + length]
    return lambda: _Slice(open(source, "rb"), offset, length)


class _Slice:
    """`length` bytes of a file from `offset`: what http.client reads a request body from."""

    def __init__(self, handle: BinaryIO, offset: int, length: int):
        self.handle = handle
        self.left = length
        handle.seek(offset)

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount < 0 else min(amount, self.left)
        data = self.handle.read(amount) if amount else b""
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def _error_body(body: bytes) -> tuple[str, str]:
    """The first (code, message) of a distribution-spec error body, or the text's first line."""
    try:
        value = json.loads(body)
        first = value["errors"][0]
        return printable(first.get("code") or "", 40), printable(first.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        text = body.decode("utf-8", "replace").strip().splitlines()
        return "", printable(text[0]) if text else ""
