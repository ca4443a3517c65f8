"""A remote cache speaking the Bazel HTTP cache protocol: `GET`/`PUT` on `/ac/<key>` and
`/cas/<sha256>`, 404 meaning a miss. Works with nginx WebDAV, bazel-remote (with
`--disable_http_ac_validation`, since our entries are JSON, not ActionResult protobufs) and
other servers users already run.

The Authorization header comes from an environment variable named in the settings; its value is
never put in a message, and neither is any user or password in the URL.
"""
from __future__ import annotations

import http.client
import os
import shutil
import urllib.parse

from ksbuild.cache.store import StoreError


class HttpStore:
    name = "remote"

    def __init__(self, url: str, timeout: float, auth_env: str):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.auth_env = auth_env
        self.shown = f"{parts.scheme}://{self.host}{f':{self.port}' if self.port else ''}{self.prefix}"
        self._connection: http.client.HTTPConnection | None = None

    # the protocol ------------------------------------------------------------------------------
    def get_entry(self, key: str) -> bytes | None:
        with self._request("GET", f"/ac/{key}") as response:
            return None if response.status == 404 else response.read()

    def put_entry(self, key: str, data: bytes) -> None:
        with self._request("PUT", f"/ac/{key}", body=data, length=len(data)):
            pass

    def has_blob(self, digest: str) -> bool:
        with self._request("HEAD", f"/cas/{digest}") as response:
            return response.status != 404

    def get_blob(self, digest: str, destination: str) -> bool:
        with self._request("GET", f"/cas/{digest}") as response:
            if response.status == 404:
                return False
            try:
                with open(destination, "wb") as handle:
                    shutil.copyfileobj(response.response, handle, 1 << 20)
            except (OSError, http.client.HTTPException) as err:
                self.close()
                raise StoreError(f"GET {self.shown}/cas/{digest}: the download broke off "
                                 f"({err.__class__.__name__})") from None
        return True

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        if not force and self.has_blob(digest):
            return
        with open(source, "rb") as handle:
            with self._request("PUT", f"/cas/{digest}", body=handle, length=os.path.getsize(source)):
                pass

    # plumbing ----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body=None, length: int = 0) -> "_Response":
        headers = {"Content-Length": str(length)} if method == "PUT" else {}
        token = os.environ.get(self.auth_env, "") if self.auth_env else ""
        if token:
            headers["Authorization"] = token
        where = f"{method} {self.shown}{path}"
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once
            connection = self._connect()
            try:
                connection.request(method, self.prefix + path, body=body, headers=headers)
                response = connection.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self.close()
                if attempt == 2 or (body is not None and not isinstance(body, bytes)):
                    raise StoreError(f"{where}: {err.__class__.__name__}") from None
                continue
            except (OSError, http.client.HTTPException) as err:
                self.close()
                reason = "timed out" if isinstance(err, TimeoutError) else (
                    getattr(err, "strerror", None) or err.__class__.__name__)
                raise StoreError(f"{where}: {reason}") from None
        if response.status == 404 and method in ("GET", "HEAD"):
            return _Response(response, self)
        if response.status >= 300:
            response.read()
            raise StoreError(f"{where}: HTTP {response.status} {response.reason}")
        return _Response(response, self)

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Response:
    """A response that is read to its end on exit, so the connection can be reused."""

    def __init__(self, response: http.client.HTTPResponse, store: HttpStore):
        self.response = response
        self.store = store
        self.status = response.status

    def read(self, *args) -> bytes:
        try:
            return self.response.read(*args)
        except (OSError, http.client.HTTPException) as err:
            self.store.close()
            raise StoreError(f"{self.store.shown}: reading the response failed: {err.__class__.__name__}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.response.read()
        except (OSError, http.client.HTTPException):
            self.store.close()
