"""Registries on 127.0.0.1 for tests: Debian's docker-registry (distribution 2.8) with filesystem
storage, anonymous, with htpasswd (basic auth) or with bearer tokens from a small token service
signed by a throw-away key; and a scripted server that answers whatever raw bytes a test
wants (a registry that lies)."""
from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import threading
import time
import warnings
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from tests.servers import free_port, wait_for_port

REGISTRY_CONF = """\
version: 0.1
log:
  level: warn
  accesslog: {{disabled: false}}
storage:
  filesystem: {{rootdirectory: {base}/data}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{port}
{auth}"""

SERVICE = "ksbuild-test"
ISSUER = "ksbuild-test-issuer"


class RegistryServer:
    def __init__(self, base: Path, port: int):
        self.base, self.port = base, port
        self.host = f"127.0.0.1:{port}"
        self.log = base / "registry.log"

    def requests(self) -> list[str]:
        """'METHOD /path STATUS' for every request served so far (from the access log)."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            match = re.search(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d+)', line)
            if match:
                found.append(f"{match.group(1)} {match.group(2).split('?')[0]} {match.group(3)}")
        return found


@contextmanager
def docker_registry(base: Path, htpasswd: tuple[str, str] | None = None, token: "TokenService | None" = None):
    """docker-registry on a free port, its data under `base`; with `htpasswd` (user, password) it
    asks for basic auth, with `token` for a bearer token from that service."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt  # the bcrypt line docker-registry wants (deprecated, present in 3.11)
            line = f"{htpasswd[0]}:{crypt.crypt(htpasswd[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n"
        (base / "htpasswd").write_text(line)
        auth = f"auth:\n  htpasswd: {{realm: ksbuild-test, path: {base}/htpasswd}}\n"
    elif token:
        auth = (f"auth:\n  token:\n    realm: {token.url}/token\n    service: {SERVICE}\n"
                f"    issuer: {ISSUER}\n    rootcertbundle: {token.cert}\n")
    (base / "registry.yml").write_text(REGISTRY_CONF.format(base=base, port=port, auth=auth))
    server = RegistryServer(base, port)
    with open(server.log, "wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(base / "registry.yml")],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port)
        except RuntimeError:
            process.kill()
            process.wait()
            raise RuntimeError(f"docker-registry did not start: {server.log.read_text()}") from None
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class TokenService:
    """Issues registry tokens (RS256 JWTs with the certificate in `x5c`) to USER:PASSWORD, for
    the scopes asked; remembers each request's scopes and whether it carried credentials."""

    def __init__(self, base: Path, user: str, password: str):
        base.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = base / "token.key", base / "token.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=ksbuild-test-tokens"],
                       check=True, capture_output=True)
        pem = self.cert.read_text()
        self.x5c = "".join(pem.split("-----")[2].split())
        self.user, self.password = user, password
        self.seen: list[tuple[list[str], bool]] = []
        self.url = ""

    def issue(self, scopes: list[str]) -> str:
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":") if scope.count(":") == 2 else ("", "", "")
            if kind == "repository":
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": ISSUER, "sub": self.user, "aud": SERVICE, "exp": now + 600, "nbf": now - 60,
                  "iat": now, "jti": base64.b16encode(now.to_bytes(8, "big")).decode(), "access": access}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), capture_output=True, check=True).stdout
        return f"{signing_input}.{_b64(signature)}"

    @contextmanager
    def serving(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                given = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{service.user}:{service.password}".encode()).decode()
                service.seen.append((query.get("scope", []), bool(given)))
                if given != expected:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"token": service.issue(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


@contextmanager
def scripted_server(answer: Callable[[str, str], bytes]):
    """A server that reads each request and sends `answer(method, path)`: raw bytes, status line
    and headers included (a lie is whatever the test writes), then closes the connection.
    Yields its host:port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve_one(connection: socket.socket):
        with connection:
            connection.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                left = int(length.group(1)) - len(rest) if length else 0
                while left > 0:
                    chunk = connection.recv(min(left, 65536))
                    if not chunk:
                        return
                    left -= len(chunk)
                method, path = head.split(b" ")[:2]
                connection.sendall(answer(method.decode(), path.decode()))
            except OSError:
                pass

    def serve():
        while not stop.is_set():
            try:
                connection = listener.accept()[0]
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def http_reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               length: int | None = None) -> bytes:
    """Raw HTTP/1.1 reply bytes; `length` overrides the Content-Length header (None: the body's
    true length; -1: no Content-Length, the body ends when the connection closes)."""
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length != -1:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
