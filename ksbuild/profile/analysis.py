"""What the report says about a run: its counts, critical path, slowest work and phases.

Reads `.ksbuild/last-run.json` (cli.reporter) and, when it belongs to that run, the trace in
`.ksbuild/last-profile.json` (profile.trace).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ksbuild.profile.trace import LAST_PROFILE, run_digest
from ksbuild.state import STATE_DIR

RUN_RECORD = os.path.join(STATE_DIR, "last-run.json")  # cli.reporter.RECORD_FILE, without importing doit
PHASES = ("sandbox", "cache lookup", "run", "commit", "upload")  # in the order an action goes through them
STATUSES = ("executed", "cache-hit", "up-to-date", "failed")


class NoRunRecorded(Exception):
    """There is no readable run record: nothing to report."""


@dataclass
class Run:
    head: dict  # the record's command, seconds, summary
    tasks: list[dict]  # each: task, status, reason, seconds (and error, cache, miss)
    events: list[dict] = field(default_factory=list)  # the profile's complete events, if it is this run's
    recorded: float = 0.0  # when the record was written (seconds since the epoch)

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(1 for t in self.tasks if t["status"] == status) for status in STATUSES}

    @property
    def hit_rate(self) -> float | None:
        """Cache hits among the targets that had to be made; None when none had to be."""
        made = self.counts["executed"] + self.counts["cache-hit"]
        return self.counts["cache-hit"] / made if made else None


def load_run(root: str) -> Run:
    path = os.path.join(root, RUN_RECORD)
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
            recorded = os.fstat(handle.fileno()).st_mtime
    except FileNotFoundError:
        raise NoRunRecorded(f"no run recorded yet in {RUN_RECORD}: build first (`doit`), then ask for the "
                            "report") from None
    except (OSError, ValueError) as err:
        raise NoRunRecorded(f"cannot read the run record {RUN_RECORD}: {getattr(err, 'strerror', None) or err}") \
            from None
    tasks = record.get("tasks") if isinstance(record, dict) else None
    if not isinstance(tasks, list):
        raise NoRunRecorded(f"the run record {RUN_RECORD} holds no tasks: build again, then ask for the report")
    tasks = [dict(t, seconds=_number(t.get("seconds"))) for t in tasks
             if isinstance(t, dict) and isinstance(t.get("task"), str) and t.get("status") in STATUSES]
    head = dict({k: v for k, v in record.items() if k != "tasks"}, seconds=_number(record.get("seconds")))
    return Run(head, tasks, _profile_events(root, record["tasks"]), recorded)


def _profile_events(root: str, records: list) -> list[dict]:
    """The profile's "X" events, if the profile was written by the recorded run (not an older one)."""
    try:
        with open(os.path.join(root, LAST_PROFILE), encoding="utf-8") as handle:
            trace = json.load(handle)
        if trace["otherData"]["ksbuild_run"] != run_digest([r for r in records if isinstance(r, dict)]):
            return []
        return [e for e in trace["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"
                and isinstance(e.get("args"), dict) and isinstance(e.get("dur"), (int, float))]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def critical_path(run: Run, deps: dict[str, list[str]]) -> list[dict]:
    """The chain of dependent targets with the largest sum of seconds, first-built first."""
    seconds = {t["task"]: t["seconds"] for t in run.tasks}
    best: dict[str, tuple[float, str | None]] = {}  # task -> (its chain's seconds, the dependency it follows)
    for start in seconds:
        stack = [(start, False)]
        while stack:  # depth first, without recursion: chains may be long
            task, ready = stack.pop()
            if task in best:
                continue
            below = [d for d in deps.get(task, ()) if d in seconds]
            if not ready:
                stack.append((task, True))
                stack.extend((d, False) for d in below if d not in best)
                continue
            longest = max(below, key=lambda d: best.get(d, (0.0, None))[0], default=None)
            tail = best.get(longest, (0.0, None))[0] if longest else 0.0
            best[task] = (seconds[task] + tail, longest if tail > 0 else None)
    if not best or max(total for total, _ in best.values()) <= 0:
        return []
    by_task = {t["task"]: t for t in run.tasks}
    task: str | None = max(best, key=lambda t: best[t][0])
    chain = []
    while task:
        chain.append(by_task[task])
        task = best[task][1]
    return chain[::-1]


def slowest_targets(run: Run, count: int = 10) -> list[dict]:
    return sorted((t for t in run.tasks if t["seconds"] > 0), key=lambda t: -t["seconds"])[:count]


def slowest_actions(run: Run, count: int = 10) -> list[dict]:
    """Each action's phases summed (its commit is the target's), slowest first."""
    actions: dict[tuple[str, int], dict] = {}
    for event in _phases(run):
        args = event["args"]
        if not isinstance(args.get("action"), int):
            continue
        action = actions.setdefault((str(args.get("task")), args["action"]), {
            "task": str(args.get("task")), "index": args["action"], "mnemonic": str(args.get("mnemonic", "")),
            "seconds": 0.0, "phases": {}})
        action["seconds"] += event["dur"] / 1e6
        action["phases"][event["name"]] = action["phases"].get(event["name"], 0.0) + event["dur"] / 1e6
    return sorted(actions.values(), key=lambda a: -a["seconds"])[:count]


def phase_totals(run: Run) -> list[dict]:
    """Per phase: how many, their total and longest seconds, in the order actions go through them."""
    totals: dict[str, dict] = {}
    for event in _phases(run):
        total = totals.setdefault(str(event["name"]), {"phase": str(event["name"]), "count": 0, "seconds": 0.0,
                                                       "longest": 0.0})
        total["count"] += 1
        total["seconds"] += event["dur"] / 1e6
        total["longest"] = max(total["longest"], event["dur"] / 1e6)
    order = {name: place for place, name in enumerate(PHASES)}
    return sorted(totals.values(), key=lambda t: (order.get(t["phase"], len(order)), t["phase"]))


def _phases(run: Run) -> list[dict]:
    return [e for e in run.events if e.get("cat") == "phase"]


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
