"""A line now and then while an action runs long, so that a person sees the build is alive.

    with Heartbeat("kubestellar:clients: GoClients"):
        ...  # after 5 s, then every 10 s: `ksbuild: kubestellar:clients: GoClients still running (20 s)`

The lines go to the real standard output (doit captures a Python action's sys.stdout). The thread
only waits and writes: signals stay with the main thread, so Ctrl-C reaches the action as before,
and the thread is stopped and joined when the block ends, however it ends. KSBUILD_QUIET=1: none.
"""
from __future__ import annotations

import os
import sys
import threading
import time

FIRST = 5.0  # seconds before the first line
EVERY = 10.0  # seconds between lines after it (at 10 s, 20 s, ...)


class Heartbeat:
    def __init__(self, what: str, first: float = FIRST, every: float = EVERY, stream=None):
        self.what, self.first, self.every = what, first, every
        self.stream = stream
        self.thread: threading.Thread | None = None
        self.stopped = threading.Event()

    def __enter__(self):
        if os.environ.get("KSBUILD_QUIET") != "1":
            self.started = time.monotonic()
            self.thread = threading.Thread(target=self._beat, name="ksbuild-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, kind, value, traceback):
        if self.thread is not None:
            self.stopped.set()
            self.thread.join()
            self.thread = None
        return False

    def _beat(self) -> None:
        due = self.first
        while not self.stopped.wait(max(0.0, due - (time.monotonic() - self.started))):
            self._say(f"ksbuild: {self.what} still running ({due:.0f} s)\n")
            due = (int(due // self.every) + 1) * self.every  # 5 s, then on the tens

    def _say(self, line: str) -> None:
        stream = self.stream or sys.__stdout__
        if stream is None:
            return
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout: the action goes on regardless
            pass
