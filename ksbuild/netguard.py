"""Guards for HTTP connections to servers we do not trust (the remote cache, registries): a deadline
per exchange that no trickling server can stretch, and a check that an idle connection has nothing
unexpected to read before it is reused."""
from __future__ import annotations

import http.client
import select
import socket
import threading


class Watchdog:
    """Shuts the connection's socket down when an exchange outlives its deadline: a blocked read
    or write returns at once, whatever the server does."""

    def __init__(self, seconds: float):
        self.expired = False
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.001), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock) -> None:
        with self._lock:
            self.sock = sock
            expired = self.expired
        if expired:
            self._shutdown(sock)
            raise TimeoutError()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self.sock
        self._shutdown(sock)

    @staticmethod
    def _shutdown(sock) -> None:
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def unexpected_bytes(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read: the server hung up or said too much."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
