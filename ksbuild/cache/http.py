"""A remote cache speaking the Bazel HTTP cache protocol: `GET`/`PUT` on `/ac/<key>` and
`/cas/<sha256>`, 404 meaning a miss. Works with nginx WebDAV, bazel-remote (with
`--disable_http_ac_validation`, since our entries are JSON, not ActionResult protobufs) and
other servers users already run.

The server is not trusted: a reply whose Content-Length is more than the entry declares (or more
than MAX_BLOB_SIZE / MAX_ENTRY_SIZE) is refused before its body is read, a body is streamed and
stopped as soon as it has more bytes than that, and the connection is then closed rather than
reused. Time is bounded three ways: `timeout` per network operation, a deadline per exchange
(`timeout` plus its size at MIN_TRANSFER_RATE: a server trickling a byte a second is cut off), and a
budget of remote time for the run; past the budget every request fails at once, so the caller
gives the remote up.

The Authorization header comes from an environment variable named in the settings; its value is
never put in a message, and neither is any user or password in the URL.
"""
from __future__ import annotations

import http.client
import os
import time
import urllib.parse
from contextlib import contextmanager

from ksbuild.cache.config import MAX_BLOB_SIZE, MAX_ENTRY_SIZE, MIN_TRANSFER_RATE
from ksbuild.cache.store import CHUNK, StoreError, Untrusted, copy_blob
from ksbuild.netguard import Watchdog, unexpected_bytes

DRAIN = 64 * 1024  # what is read of a reply's unread rest to keep the connection; past it, it is closed


class HttpStore:
    name = "remote"

    def __init__(self, url: str, timeout: float, auth_env: str, read_only: bool = False, budget: float = 0):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.auth_env = auth_env
        self.read_only = read_only
        self.budget = budget if budget > 0 else float("inf")  # seconds of remote time for the run
        self.spent = 0.0
        self.shown = f"{parts.scheme}://{self.host}{f':{self.port}' if self.port else ''}{self.prefix}"
        self._connection: http.client.HTTPConnection | None = None

    # the protocol ------------------------------------------------------------------------------
    def get_entry(self, key: str) -> bytes | None:
        with self._exchange("GET", f"/ac/{key}", MAX_ENTRY_SIZE) as response:
            if response.status == 404:
                return None
            return response.read_all(MAX_ENTRY_SIZE, f"{self.shown}/ac/{key}")

    def put_entry(self, key: str, data: bytes) -> None:
        self._check_writable()
        with self._exchange("PUT", f"/ac/{key}", len(data), body=data, length=len(data)):
            pass

    def has_blob(self, digest: str) -> bool:
        with self._exchange("HEAD", f"/cas/{digest}", 0) as response:
            return response.status != 404

    def get_blob(self, digest: str, destination: str, size: int | None = None) -> bool:
        limit = MAX_BLOB_SIZE if size is None else min(size, MAX_BLOB_SIZE)
        where = f"{self.shown}/cas/{digest}"
        with self._exchange("GET", f"/cas/{digest}", limit) as response:
            if response.status == 404:
                return False
            response.check_length(limit, size, where)
            with open(destination, "wb") as handle:
                copy_blob(response.read1, handle, digest, size, where)
        return True

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        self._check_writable()
        if not force and self.has_blob(digest):
            return
        with open(source, "rb") as handle:
            length = os.fstat(handle.fileno()).st_size
            with self._exchange("PUT", f"/cas/{digest}", length, body=handle, length=length):
                pass

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.shown} is read only here (remote_mode ro): nothing is written to it")

    # plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _exchange(self, method: str, path: str, expected: int, body=None, length: int = 0):
        """One request and its reply, within the exchange's deadline and the run's budget; a reply
        not read to its end (refused, failed) closes the connection."""
        where = f"{method} {self.shown}{path}"
        left = self.budget - self.spent
        if left <= 0:
            raise StoreError(f"{self.shown}: the remote cache's time budget for this run ({self.budget:g} s) is spent")
        allowed = self.timeout + expected / MIN_TRANSFER_RATE
        watchdog = Watchdog(min(allowed, left))
        started = time.monotonic()
        try:
            response = self._request(method, path, body, length, where, watchdog)
            try:
                yield response
            except BaseException:
                self.close()
                raise
            response.finish()
        except (OSError, http.client.HTTPException, StoreError, Untrusted) as err:
            self.close()
            if watchdog.expired:
                raise StoreError(f"{where}: the remote cache's time budget for this run ({self.budget:g} s) is spent"
                                 if left < allowed else f"{where}: no complete answer within {allowed:.0f} s") from None
            if isinstance(err, (StoreError, Untrusted)):
                raise
            reason = "timed out" if isinstance(err, TimeoutError) else (
                getattr(err, "strerror", None) or err.__class__.__name__)
            raise StoreError(f"{where}: {reason}") from None
        finally:
            watchdog.cancel()
            self.spent += time.monotonic() - started

    def _request(self, method: str, path: str, body, length: int, where: str, watchdog: "Watchdog") -> "_Response":
        headers = {"Content-Length": str(length)} if method == "PUT" else {}
        token = os.environ.get(self.auth_env, "") if self.auth_env else ""
        if token:
            headers["Authorization"] = token
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once
            connection = self._connect()
            try:
                if connection.sock is None:
                    connection.connect()
                watchdog.watch(connection.sock)
                connection.request(method, self.prefix + path, body=body, headers=headers)
                response = connection.getresponse()
                watchdog.watch(connection.sock or watchdog.sock)
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if watchdog.expired or attempt == 2 or (body is not None and not isinstance(body, bytes)):
                    raise
        reply = _Response(response, self, watchdog)
        if response.status == 404 and method in ("GET", "HEAD"):
            return reply
        if response.status >= 300:
            reply.finish()
            raise StoreError(f"{where}: HTTP {response.status} {_printable(response.reason)}")
        return reply

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is not None and unexpected_bytes(self._connection):
            self.close()  # the server said more than its last reply, or hung up: never parse that as a reply
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Response:
    """A reply, read within bounds; what is left of it is read on exit (up to DRAIN bytes) so the
    connection can be reused, or the connection is closed."""

    def __init__(self, response: http.client.HTTPResponse, store: HttpStore, watchdog: "Watchdog"):
        self.response = response
        self.store = store
        self.watchdog = watchdog
        self.status = response.status

    def read1(self, amount: int) -> bytes:
        if self.watchdog.expired:
            raise TimeoutError()
        return self.response.read1(amount)

    def check_length(self, limit: int, size: int | None, where: str) -> None:
        """Refuse, unread, a reply whose Content-Length is not what the entry declares."""
        claimed = self.response.length  # None: chunked, or until the connection closes
        if claimed is not None and (claimed > limit or (size is not None and claimed != size)):
            raise Untrusted(f"{where}: the reply claims {claimed} bytes, " +
                            (f"the entry declares {size}" if size is not None else f"more than the {limit} allowed"))

    def read_all(self, limit: int, where: str) -> bytes:
        self.check_length(limit, None, where)
        data = bytearray()
        while chunk := self.read1(min(CHUNK, limit + 1 - len(data))):
            data += chunk
            if len(data) > limit:
                raise Untrusted(f"{where}: the reply is larger than an entry may be ({limit} bytes)")
        if self.response.length:
            raise StoreError(f"{where}: the reply broke off")
        return bytes(data)

    def finish(self) -> None:
        try:
            left = DRAIN
            while not self.response.isclosed() and left > 0:
                chunk = self.read1(min(left, 16384))
                if not chunk:
                    break
                left -= len(chunk)
            if not self.response.isclosed():
                self.store.close()
        except (OSError, http.client.HTTPException):
            self.store.close()




def _printable(text: str) -> str:
    """A server's words, made safe to print: printable ASCII, short."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in str(text))
    return cleaned[:80]
