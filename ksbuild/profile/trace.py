"""The run's events, from every worker, as one Chrome trace (chrome://tracing, ui.perfetto.dev).

Each worker (a process, or a thread under `doit -P thread`) is a row; on it, each target it ran is a
span, and that target's phases are nested under it. Times are microseconds from the run's start.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

from ksbuild.files import DiskFull, write_atomically
from ksbuild.profile.recorder import EVENTS_DIR, EVENTS_SUFFIX
from ksbuild.state import STATE_DIR

LAST_PROFILE = os.path.join(STATE_DIR, "last-profile.json")
BUILD_PID = 1  # every row under one process: the build


def merge_run(root: str, out_path: str, records: list[dict], started: float | None = None) -> None:
    """Write the trace of this run's events to `out_path` and `.ksbuild/last-profile.json`, both
    atomically, then remove the event files. `started` is the run's time.monotonic() at its start
    (default: the reporter's); events from before it (a killed run's) are left out."""
    origin = _run_start_ns(started)
    paths, events = read_events(root, origin)
    data = encode(chrome_trace(events, records, origin))
    for path in (out_path, os.path.join(root, LAST_PROFILE)):
        try:
            write_atomically(path, data)
        except DiskFull:
            raise  # the run ends with the line naming the disk
        except OSError as err:  # a directory, a path without permission: the build itself went well
            sys.stderr.write(f"ksbuild: warning: cannot write the profile to {path}: {err.strerror or err}\n")
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def read_events(root: str, since_ns: int | None) -> tuple[list[str], list[dict]]:
    """Every event file under `root` (all are read, to be removed), and their events of this run."""
    directory = os.path.join(root, EVENTS_DIR)
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(EVENTS_SUFFIX))
    except OSError:
        return [], []
    now = time.monotonic_ns()
    earliest_mtime = time.time() - (now - since_ns) / 1e9 - 1 if since_ns is not None else 0  # before a reboot
    paths, events = [], []
    for name in names:
        path = os.path.join(directory, name)
        paths.append(path)
        try:
            if os.stat(path).st_mtime < earliest_mtime:
                continue
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            event = _parse(line)
            if event and (since_ns is None or since_ns <= event["start"]) and event["end"] <= now:
                events.append(event)
    return paths, events


def chrome_trace(events: list[dict], records: list[dict], origin_ns: int | None) -> dict:
    """The trace-event JSON object: "X" (complete) events, rows named by "M" (metadata) events."""
    events = sorted(events, key=lambda e: (e["start"], -e["end"]))  # a span before what it holds
    origin = origin_ns if origin_ns is not None else min((e["start"] for e in events), default=0)
    lanes: dict[tuple[int, int], int] = {}
    for event in events:
        lanes.setdefault((event["pid"], event["tid"]), len(lanes) + 1)
    trace = [{"name": "process_name", "ph": "M", "pid": BUILD_PID, "tid": 0, "args": {"name": "ksbuild"}}]
    for (pid, tid), lane in lanes.items():
        name = f"worker {lane} (pid {pid}" + (f", thread {tid})" if tid != pid else ")")
        trace.append({"name": "thread_name", "ph": "M", "pid": BUILD_PID, "tid": lane, "args": {"name": name}})
        trace.append({"name": "thread_sort_index", "ph": "M", "pid": BUILD_PID, "tid": lane,
                      "args": {"sort_index": lane}})
    by_task = {record["task"]: record for record in records}
    for event in events:
        args: dict = {"task": event["task"]}
        if event["kind"] == "target":
            record = by_task.get(event["task"], {})
            args.update({field: record[field] for field in ("status", "reason", "cache", "miss") if record.get(field)})
        else:
            if event["index"] is not None:
                args["action"] = event["index"]
            if event["mnemonic"]:
                args["mnemonic"] = event["mnemonic"]
        if event["failed"]:
            args["failed"] = True
        trace.append({"name": event["name"], "cat": "target" if event["kind"] == "target" else "phase", "ph": "X",
                      "ts": round((event["start"] - origin) / 1000, 3),
                      "dur": round(max(0, event["end"] - event["start"]) / 1000, 3),
                      "pid": BUILD_PID, "tid": lanes[(event["pid"], event["tid"])], "args": args})
    return {"traceEvents": trace, "displayTimeUnit": "ms", "otherData": {"ksbuild_run": run_digest(records)}}


def run_digest(records: list[dict]) -> str:
    """What identifies a run's record: the report uses a profile only with the run it belongs to."""
    shape = sorted([str(r.get("task")), str(r.get("status")), r.get("seconds")] for r in records)
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def encode(trace: dict) -> bytes:
    """One event per line: readable, diffable, and still one JSON document."""
    head = {key: value for key, value in trace.items() if key != "traceEvents"}
    body = ",\n  ".join(json.dumps(event) for event in trace["traceEvents"])
    return (json.dumps(head)[:-1] + ',\n "traceEvents": [\n  ' + body + "\n ]\n}\n").encode()


def _run_start_ns(started: float | None) -> int | None:
    if started is None:
        reporter = sys.modules.get("ksbuild.cli.reporter")  # finish() is called from its complete_run
        started = getattr(reporter, "STARTED", None)
    return int(started * 1e9) if started is not None else None


_FIELDS = {"kind": str, "name": str, "task": str, "mnemonic": str, "start": int, "end": int, "pid": int,
           "tid": int, "failed": bool}


def _parse(line: str) -> dict | None:
    """One event line, or None for anything else (a line cut short by a killed worker)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not all(isinstance(event.get(k), t) for k, t in _FIELDS.items()):
        return None
    if event.get("index") is not None and not isinstance(event["index"], int):
        return None
    return event
