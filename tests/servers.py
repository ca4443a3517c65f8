"""Real servers on 127.0.0.1 for tests: nginx with WebDAV (a Bazel HTTP cache), and a server that
accepts connections and never answers (a hung cache)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {base}/data;
        client_max_body_size 0;
        location / {{
{auth}            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class Nginx:
    def __init__(self, base: Path, port: int):
        self.base, self.port = base, port
        self.url = f"http://127.0.0.1:{port}"
        self.data = base / "data"

    def files(self) -> list[Path]:
        return sorted(p for p in self.data.rglob("*") if p.is_file())

    def requests(self) -> list[str]:
        """'METHOD /path STATUS' for every request served so far."""
        lines = (self.base / "access.log").read_text().splitlines()
        return [" ".join([line.split('"')[1].split()[0], line.split('"')[1].split()[1],
                          line.split('"')[2].split()[0]]) for line in lines if '"' in line]


@contextmanager
def nginx_webdav(base: Path, token: str = ""):
    """nginx serving a WebDAV directory on a free port; with `token`, requests must carry
    `Authorization: <token>`."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    for sub in ("data", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = f'            if ($http_authorization != "{token}") {{ return 401; }}\n' if token else ""
    (base / "nginx.conf").write_text(NGINX_CONF.format(base=base, port=port, auth=auth))
    process = subprocess.Popen([nginx, "-c", str(base / "nginx.conf"), "-p", str(base)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_for_port(port)
        except RuntimeError:
            process.kill()
            raise RuntimeError(f"nginx did not start: {process.communicate()[1].decode()}") from None
        yield Nginx(base, port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def silent_server():
    """Accepts connections and reads, never answers: a cache server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()
