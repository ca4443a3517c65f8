"""A line now and then while an action runs long, so that a person sees the build is alive.

    with Heartbeat("kubestellar:clients: GoClients"):
        ...  # after 5 s, then every 10 s: `ksbuild: kubestellar:clients: GoClients still running (20 s)`

The lines go to the real standard output (doit captures a Python action's sys.stdout). One thread
per process watches whichever action runs now (a thread per action cost half a millisecond of
each one): it only waits and writes, so signals stay with the main thread and Ctrl-C reaches the
action as before; when the block ends, however it ends, its beat stops. KSBUILD_QUIET=1: none.
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
        self.due = first

    def __enter__(self):
        if os.environ.get("KSBUILD_QUIET") != "1":
            self.started = time.monotonic()
            self.thread = _watch(self)
        return self

    def __exit__(self, kind, value, traceback):
        if self.thread is not None:
            _unwatch(self)
            self.thread = None
        return False

    def _say(self, line: str) -> None:
        stream = self.stream or sys.__stdout__
        if stream is None:
            return
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout: the action goes on regardless
            pass


_changed = threading.Condition()
_current: Heartbeat | None = None
_watcher: tuple[int, threading.Thread] | None = None  # (process id, thread): a forked worker starts its own


def _watch(beat: Heartbeat) -> threading.Thread:
    global _current, _watcher
    with _changed:
        _current = beat
        if _watcher is None or _watcher[0] != os.getpid() or not _watcher[1].is_alive():
            thread = threading.Thread(target=_beat, name="ksbuild-heartbeat", daemon=True)
            thread.start()
            _watcher = (os.getpid(), thread)
        _changed.notify()
        return _watcher[1]


def _unwatch(beat: Heartbeat) -> None:
    global _current
    with _changed:
        if _current is beat:
            _current = None


def _beat() -> None:
    with _changed:
        while True:
            beat = _current
            if beat is None:
                _changed.wait()
                continue
            remaining = beat.due - (time.monotonic() - beat.started)
            if remaining > 0:
                _changed.wait(remaining)
                continue
            line = f"ksbuild: {beat.what} still running ({beat.due:.0f} s)\n"
            beat.due = (int(beat.due // beat.every) + 1) * beat.every  # 5 s, then on the tens
            _changed.release()  # a slow stdout never holds up the next action
            try:
                beat._say(line)
            finally:
                _changed.acquire()
