"""The events of the targets this process runs, one file per target under .ksbuild/work/.profile/.

doit may run targets in worker processes (`-n N`): each writes its own files, which
`trace.merge_run` reads at the end of the run. Times are CLOCK_MONOTONIC nanoseconds, the same
clock in every process of the machine, so the workers' events line up.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from urllib.parse import quote

from ksbuild.state import STATE_DIR

EVENTS_DIR = os.path.join(STATE_DIR, "work", ".profile")  # no component is named with a dot
EVENTS_SUFFIX = ".events.jsonl"

# task -> its events so far, while its span is open; keyed by task, since one process may run
# several targets at once in threads (`doit -P thread`)
_open: dict[str, list[dict]] = {}
_warned: list[str] = []  # one warning per process when events cannot be written


class TargetSpan:
    def __init__(self, root: str, task: str):
        self.root, self.task = root, task
        self.outermost = False

    def __enter__(self):
        if self.task not in _open:  # not when the executor reruns a target inside its own run: one span
            self.outermost = True
            _open[self.task] = []
            self.start = time.monotonic_ns()
        return self

    def __exit__(self, kind, value, traceback):
        if self.outermost:
            events = _open.pop(self.task)
            events.append(_event("target", self.task, self.task, None, "", self.start, kind is not None))
            _write(self.root, self.task, events)
        return False


class Phase:
    __slots__ = ("task", "index", "name", "mnemonic", "start")

    def __init__(self, task: str, index: int | None, name: str, mnemonic: str):
        self.task, self.index, self.name, self.mnemonic = task, index, name, mnemonic

    def __enter__(self):
        self.start = time.monotonic_ns()
        return self

    def __exit__(self, kind, value, traceback):
        events = _open.get(self.task)
        if events is not None:
            failed = kind is not None
            events.append(_event("phase", self.name, self.task, self.index, self.mnemonic, self.start, failed))
        return False


def _event(kind: str, name: str, task: str, index: int | None, mnemonic: str, start: int, failed: bool) -> dict:
    return {"kind": kind, "name": name, "task": task, "index": index, "mnemonic": mnemonic, "start": start,
            "end": time.monotonic_ns(), "pid": os.getpid(), "tid": threading.get_native_id(), "failed": failed}


def events_path(root: str, task: str) -> str:
    return os.path.join(root, EVENTS_DIR, f"{os.getpid()}-{quote(task, safe='')}{EVENTS_SUFFIX}")


def _write(root: str, task: str, events: list[dict]) -> None:
    """Appended in one write: a target the executor ran twice keeps both runs' events."""
    path = events_path(root, task)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(event) + "\n" for event in events))
    except OSError as err:  # the profile is a by-product: the build goes on without it
        if not _warned:
            _warned.append(path)
            sys.stderr.write(f"ksbuild: warning: cannot write profile events to {path}: "
                             f"{err.strerror or err}; the profile will lack them\n")
