"""HTTP for the registry client: one request and its reply, within bounds and a deadline.

Time is bounded twice: `timeout` for every network operation (connect, each read and write), and
a deadline for the whole exchange, `timeout` plus its size at MIN_TRANSFER_RATE, enforced by a
watchdog that shuts the socket down, so a server trickling a byte at a time is cut off too.
Size is bounded by the caller: a reply whose Content-Length is over the limit is refused before
its body is read, and a body is read only to one byte past the limit.

A connection is kept for the next request to the same origin only when its reply was read to
the end; a request whose body is a stream always gets a fresh connection (it cannot be replayed
if a kept-alive connection turns out to be closed).
"""
from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator
from urllib.parse import urlsplit

from ksbuild.netguard import Watchdog, unexpected_bytes
from ksbuild.registry.errors import Failure, printable

MIN_TRANSFER_RATE = 128 * 1024  # bytes per second a transfer may not fall below, on average
CHUNK = 1 << 20
DRAIN = 64 * 1024  # what is read of a reply's unread rest to keep its connection
USER_AGENT = "ksbuild"

Body = bytes | BinaryIO | None


def shown(url: str) -> str:
    """A URL as it may be printed: scheme, host and path, never the query (upload URLs carry
    state there) or a user:password."""
    parts = urlsplit(url)
    return printable(f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}")


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class Transport:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._idle: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._tls = ssl.create_default_context()

    @contextmanager
    def request(self, method: str, url: str, headers: dict[str, str], body: Body = None,
                length: int | None = None, expected: int = 0) -> Iterator["Reply"]:
        """Send one request; yield its reply, to be read within its bounds. `length` is the
        body's size (required for a stream), `expected` the reply body's expected size (for the
        deadline)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Failure(f"{shown(url)} is not an http(s) URL")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        size = len(body) if isinstance(body, bytes) else (length or 0)
        seconds = self.timeout + max(size, expected) / MIN_TRANSFER_RATE
        watchdog = Watchdog(seconds)
        key = origin(url)
        headers = {"User-Agent": USER_AGENT, **headers}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(size)
        try:
            connection, response = self._send(key, method, target, headers, body, watchdog, seconds)
        except BaseException:
            watchdog.cancel()
            raise
        reply = Reply(response, url, watchdog, seconds)
        try:
            yield reply
        except BaseException:
            connection.close()
            watchdog.cancel()
            raise
        if reply.finish():
            old = self._idle.pop(key, None)
            if old is not None:
                old.close()
            self._idle[key] = connection
        else:
            connection.close()
        watchdog.cancel()

    def close(self) -> None:
        for connection in self._idle.values():
            connection.close()
        self._idle.clear()

    def _send(self, key, method, target, headers, body, watchdog, seconds):
        replayable = body is None or isinstance(body, bytes)
        for attempt in (1, 2):
            connection = self._idle.pop(key, None)
            reused = connection is not None
            if connection is not None and (not replayable or unexpected_bytes(connection)):
                connection.close()
                connection, reused = None, False
            if connection is None:
                connection = self._connection(key)
            try:
                if connection.sock is None:
                    connection.connect()
                watchdog.watch(connection.sock)
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                return connection, response
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                connection.close()
                if reused and attempt == 1 and not watchdog.expired:
                    continue  # a kept-alive connection the server had closed: once more, fresh
                raise _failure(err, watchdog, seconds) from None
            except (OSError, http.client.HTTPException) as err:
                connection.close()
                raise _failure(err, watchdog, seconds) from None
        raise AssertionError("unreachable")

    def _connection(self, key: tuple[str, str]) -> http.client.HTTPConnection:
        scheme, netloc = key
        if scheme == "https":
            connection = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._tls,
                                                     blocksize=CHUNK)
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=CHUNK)
        return connection


class Reply:
    """A reply whose body is read within limits; network trouble while reading is a Failure."""

    def __init__(self, response: http.client.HTTPResponse, url: str, watchdog: "Watchdog", seconds: float):
        self.response = response
        self.url = url
        self.status = response.status
        self._watchdog = watchdog
        self._seconds = seconds

    def header(self, name: str) -> str:
        return self.response.getheader(name) or ""

    def read1(self, amount: int) -> bytes:
        if self._watchdog.expired:
            raise Failure(f"no complete answer within {self._seconds:.0f} s")
        try:
            return self.response.read1(amount)
        except (OSError, http.client.HTTPException) as err:
            raise _failure(err, self._watchdog, self._seconds) from None

    def check_length(self, limit: int, size: int | None = None) -> None:
        """Refuse, unread, a body whose Content-Length is over `limit` or is not `size`."""
        claimed = self.response.length  # None: chunked, or until the connection closes
        if claimed is None:
            return
        if size is not None and claimed != size:
            raise Failure(f"the reply claims {claimed} bytes, the descriptor says {size}")
        if claimed > limit:
            raise Failure(f"the reply claims {claimed} bytes, more than the {limit} allowed")

    def read_bounded(self, limit: int) -> bytes:
        """The whole body, at most `limit` bytes."""
        self.check_length(limit)
        data = bytearray()
        while chunk := self.read1(min(CHUNK, limit + 1 - len(data))):
            data += chunk
            if len(data) > limit:
                raise Failure(f"the reply is larger than the {limit} bytes allowed")
        self._check_complete()
        return bytes(data)

    def stream(self, write: Callable[[bytes], object], limit: int) -> tuple[int, str]:
        """Pass the body to `write`, stopping past `limit` bytes; return its size and SHA-256."""
        hashed = hashlib.sha256()
        total = 0
        while chunk := self.read1(min(CHUNK, limit + 1 - total)):
            total += len(chunk)
            if total > limit:
                raise Failure(f"the reply holds more than the {limit} bytes expected")
            hashed.update(chunk)
            write(chunk)
        self._check_complete()
        return total, "sha256:" + hashed.hexdigest()

    def discard(self) -> None:
        """Read (a little of) what is left, so the connection may be kept."""
        self.finish()

    def finish(self) -> bool:
        """True when the body was read to its end and the connection can serve another request."""
        try:
            left = DRAIN
            while not self.response.isclosed() and left > 0 and not self._watchdog.expired:
                chunk = self.response.read1(min(left, 16384))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, http.client.HTTPException):
            return False
        return self.response.isclosed() and not self.response.will_close and not self._watchdog.expired

    def _check_complete(self) -> None:
        if self.response.length:  # bytes the Content-Length promised that never came
            raise Failure("the reply broke off before the end its Content-Length announced")


def _failure(err: BaseException, watchdog: "Watchdog", seconds: float) -> Failure:
    if watchdog.expired:
        return Failure(f"no complete answer within {seconds:.0f} s")
    if isinstance(err, ConnectionRefusedError):
        return Failure("cannot connect (connection refused)", "is the registry running, and is its address right?")
    if isinstance(err, socket.gaierror):
        return Failure(f"cannot resolve its host name ({printable(err.strerror)})")
    if isinstance(err, TimeoutError):
        return Failure("timed out")
    if isinstance(err, ssl.SSLCertVerificationError):
        return Failure(f"its TLS certificate is not trusted ({printable(err.verify_message)})")
    if isinstance(err, ssl.SSLError):
        hint = ("it may speak plain HTTP: if it is a local test registry, mark it insecure"
                if "WRONG_VERSION_NUMBER" in str(err) else "")
        return Failure(f"TLS failed ({printable(err.reason or err.__class__.__name__)})", hint)
    if isinstance(err, http.client.RemoteDisconnected):
        return Failure("the connection closed without an answer")
    if isinstance(err, http.client.HTTPException):
        return Failure(f"not a valid HTTP answer ({err.__class__.__name__})")
    return Failure(printable(getattr(err, "strerror", None) or err.__class__.__name__))


