"""The no-op fast path: answer "nothing to do" from a snapshot, without importing doit or the graph.

A run that built its targets with nothing failing leaves `.ksbuild/noop.snapshot`: the command line
and the directory it was given in, ksbuild's own code, the environment that can change a plan, and
the stat signature (mtime, size, inode) of every file the run depended on: workspace.yaml, the
BUILD files and the directories globs listed, every target's inputs and outputs, the state ksbuild
and doit keep, the installed tools' digest files, and, for a workspace with artifacts, the
fingerprint of the git state versions come from. The next run with the same command line stats
them all; when every one is as recorded, the answer is the previous run's: its summary line and
run record, all up to date. Anything changed, missing or unreadable takes the normal path, which
decides exactly as before (ninja's "decide at plan time, keep the check dumb").

A file written within TRUSTED_AGE of the snapshot could change again within the same timestamp
tick, so its content digest is recorded as well and compared (git's racy-clean rule).
"""
from __future__ import annotations

import gc
import marshal
import os
import sys
import time

SNAPSHOT = os.path.join(".ksbuild", "noop.snapshot")
TARGETS = os.path.join(".ksbuild", "noop.targets")  # per target: read only when the snapshot does not answer
FORMAT = 4
TRUSTED_AGE_NS = 2_000_000_000
PLAN_ENV_PREFIXES = ("KSBUILD_", "GO", "DOCKER_", "CONTAINERS_")
PLAN_ENV = ("PATH", "HOME", "XDG_CACHE_HOME", "NO_COLOR", "GITHUB_ACTIONS")
NOT_PLAN_ENV = ("KSBUILD_EXPLAIN_NOOP",)  # says why the fast path was not taken; decides nothing
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def code_stamp() -> list:
    """ksbuild's own sources (a changed rule or planner changes what a run decides)."""
    stamps = []
    for current, dirs, files in os.walk(_PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(current, name))
                stamps.append((os.path.relpath(os.path.join(current, name), _PACKAGE_DIR), stat.st_mtime_ns,
                               stat.st_size))
    return stamps


def _key(root: str, cwd: str, argv: list[str]) -> list:
    environment = sorted((k, v) for k, v in os.environ.items()
                         if (k.startswith(PLAN_ENV_PREFIXES) or k in PLAN_ENV) and k not in NOT_PLAN_ENV)
    return [FORMAT, sys.version, os.path.realpath(root), os.path.relpath(os.path.realpath(cwd), os.path.realpath(root)),
            list(argv), environment, code_stamp()]


def _signature(path: str):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _entry(full: str, now: int) -> tuple:
    """(path, stat signature, content digest when written within TRUSTED_AGE of `now`, else None)."""
    signature = _signature(full)
    racy = signature is not None and signature[0] >= now - TRUSTED_AGE_NS
    return full, signature, _digest(full) if racy else None


def _digest(path: str) -> str | None:
    import hashlib  # only for a file written just before its snapshot

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:  # a directory, or gone: its signature says enough
        return None


def write(root: str, cwd: str, argv: list[str], paths: Paths, records: list[dict], versions=None,
          carried: tuple[Previous, set[str]] | None = None) -> None:
    """Record the snapshot after a run that succeeded. `paths`: what the run depended on (see Paths);
    `records`: the run record's tasks, to answer with; `versions`: (components, fingerprint) of the git
    state, or None; `carried`: the last snapshot and the targets this run left out because it proved
    them unchanged (their files and records are kept as they were)."""
    import json

    from ksbuild.files import write_atomically

    now = time.time_ns()
    entries: list[tuple] = []
    index: dict[str, int] = {}

    def add(path: str, recorded: tuple | None = None) -> int:  # recorded: an entry kept from the last snapshot
        full = recorded[0] if recorded else os.path.join(root, path)
        if full not in index:
            index[full] = len(entries)
            entries.append(recorded or _entry(full, now))
        return index[full]

    everywhere = [add(path) for path in sorted(set(paths.run))]
    plan = sorted({add(path) for path in paths.plan} - set(everywhere))
    targets = {task: [digest, sorted({add(path) for path in files})] for task, (digest, files) in paths.targets.items()}
    rendered = {task["task"]: json.dumps(dict(task, status="up-to-date", reason="", seconds=0.0)) for task in records}
    if carried:
        previous, kept = carried
        for task in kept:
            digest, files = previous.targets[task]
            targets[task] = [digest, [add("", previous.data["entries"][i]) for i in files]]
            if task in previous.records:
                rendered[task] = previous.records[task]
    generation = os.urandom(8).hex()  # the two files belong together
    write_atomically(os.path.join(root, TARGETS), marshal.dumps({"generation": generation, "targets": targets,
                                                                "records": rendered}))
    data = {"key": _key(root, cwd, argv), "entries": entries, "run": everywhere, "plan": plan, "count": len(rendered),
            "body": ",\n  ".join(rendered.values()), "versions": versions, "generation": generation,
            "command": json.dumps(list(argv))}
    write_atomically(os.path.join(root, SNAPSHOT), marshal.dumps(data))


class Paths:
    """What a run depended on: `run`, files whose change means anything may differ (workspace.yaml,
    ksbuild's and doit's state, the tools' digests); `plan`, the BUILD files and what the plan was made
    from (a change there is judged by the plans it changes); `targets`, task -> (plan digest, its
    inputs and outputs)."""

    __slots__ = ("run", "plan", "targets")

    def __init__(self, run: list[str], plan: list[str], targets: dict[str, tuple[str, list[str]]]):
        self.run, self.plan, self.targets = run, plan, targets


class Previous:
    """The last snapshot of this command line, when the run is not a no-op: which targets it proves
    unchanged (ksbuild.cli.tasks leaves them out of doit's work)."""

    def __init__(self, data: dict, changed: set[int], root: str):
        self.data, self.changed, self.root = data, changed, root
        self.graph = None  # the workspace's graph, once answer_replanned has planned it
        detail = _load(root, TARGETS) or {}
        same = detail.get("generation") == data.get("generation")
        self.targets = detail.get("targets") if same and isinstance(detail.get("targets"), dict) else None
        self.records = detail.get("records") if same and isinstance(detail.get("records"), dict) else None

    def changed_targets(self) -> set[str] | None:
        """Targets with a changed input or output; None when something every target may depend on
        changed, or the snapshot is not what write() makes (then nothing is left out). Found once:
        answer_replanned and cli.tasks both ask."""
        if not hasattr(self, "_changed_targets"):
            self._changed_targets = self._find_changed_targets()
        return self._changed_targets

    def _find_changed_targets(self) -> set[str] | None:
        if self.targets is None or self.records is None:
            return None
        entries, records = len(self.data["entries"]), self.records
        owners: dict[int, list[str]] = {}
        try:
            for task, (digest, files) in self.targets.items():
                if not isinstance(digest, str) or not isinstance(records.get(task, ""), str):
                    return None
                for i in files:
                    if not isinstance(i, int) or not 0 <= i < entries:
                        return None
                    owners.setdefault(i, []).append(task)
            plan = set(self.data["plan"])
        except (TypeError, ValueError, AttributeError):
            return None
        found: set[str] = set()
        for i in self.changed:
            if i in owners:
                found.update(owners[i])
            elif i not in plan:
                return None
        return found

    def plan_digest(self, task: str) -> str | None:
        entry = self.targets.get(task)
        return entry[0] if entry else None


def forget(root: str) -> None:
    for name in (SNAPSHOT, TARGETS):
        try:
            os.unlink(os.path.join(root, name))
        except OSError:
            pass


previous: Previous | None = None  # set by answer() when the snapshot matched this command but something changed


def answer(root: str, cwd: str, argv: list[str], started: float) -> bool:
    """When nothing the last successful run of this command line depended on has changed: print its
    summary line, write its run record, and return True. Otherwise (or on any doubt) False; when only
    some targets' files or the BUILD files changed, and the command names no targets, `previous`
    says what the snapshot still proves."""
    global previous
    data = _load(root)
    if data is None or data.get("key") != _key(root, cwd, argv):
        return _not_taken("another command line, directory, environment or ksbuild")
    try:
        changed = {i for i, (full, signature, digest) in enumerate(data["entries"])
                   if _signature(full) != signature or (digest is not None and _digest(full) != digest)}
        if data.get("versions") and not _versions_unchanged(*data["versions"]):
            return _not_taken("the git state versions come from changed")
        if not isinstance(data["count"], int) or not isinstance(data["body"], str) \
                or not isinstance(data["command"], str):
            return _not_taken("the snapshot is not ksbuild's")
    except (KeyError, TypeError, ValueError):  # not what write() makes: the normal path decides
        return _not_taken("the snapshot is not ksbuild's")
    if changed:
        if _names_no_targets(argv):
            previous = Previous(data, changed, root)
        return _not_taken(f"{data['entries'][min(changed)][0]} changed" + (f" (and {len(changed) - 1} more)"
                                                                           if len(changed) > 1 else ""))
    _report(root, data, started)
    _settle(root, data)
    return True


def _settle(root: str, data: dict) -> None:
    """Entries whose content was compared because they were written just before the snapshot, and
    are now older than TRUSTED_AGE: their content was just found unchanged, and any change from now on
    moves their timestamp, so the next no-op trusts their signature alone (git's racy-clean rule)."""
    trusted = time.time_ns() - TRUSTED_AGE_NS
    settled = [i for i, (_, signature, digest) in enumerate(data["entries"])
               if digest is not None and signature is not None and signature[0] < trusted]
    if not settled:
        return
    for i in settled:
        data["entries"][i] = (data["entries"][i][0], data["entries"][i][1], None)
    _rewrite(root, data)


def _rewrite(root: str, data: dict) -> None:
    """The snapshot with refreshed entries; if it cannot be written, none (the normal path decides next)."""
    from ksbuild.files import write_atomically

    try:
        write_atomically(os.path.join(root, SNAPSHOT), marshal.dumps(data))
    except OSError:
        forget(root)


def answer_replanned(root: str, started: float) -> bool:
    """When only BUILD files, or what plans were made from, changed since the snapshot, and planning
    again (loader.replan, without doit) gives every target the plan it recorded: nothing can have to
    run. Answer as a no-op, and record the new signatures of what changed. Otherwise False."""
    if previous is None or previous.changed_targets() != set():
        return False
    from ksbuild.errors import ConfigError
    from ksbuild.loader.plancache import load_graph_cached

    try:
        graph = previous.graph = load_graph_cached(root)  # the normal path goes on with it (cli.tasks.graph_for)
    except ConfigError:
        return False  # the normal path reports it
    data = previous.data
    entries = data["entries"]
    try:
        everywhere, planned_from = {entries[i][0] for i in data["run"]}, {entries[i][0] for i in data["plan"]}
    except (KeyError, IndexError, TypeError):  # not what write() makes
        return False
    if {os.path.join(root, p) for p in graph.watched} - everywhere != planned_from \
            or set(graph.plans) != set(previous.targets) \
            or any(previous.plan_digest(task) != plan.digest for task, plan in graph.plans.items()):
        return _not_taken("a plan changed")
    now = time.time_ns()
    for i in previous.changed:
        entries[i] = _entry(entries[i][0], now)
    _report(root, data, started)
    _rewrite(root, data)
    return True


def _names_no_targets(argv: list[str]) -> bool:
    """The command builds the default targets (`ksbuild`, `doit -n 2`): what may be left out is known."""
    from ksbuild.cli.commandline import VALUED_OPTIONS

    words = iter(argv)
    for word in words:
        if word in VALUED_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return False
    return True


def _not_taken(why: str) -> bool:
    if os.environ.get("KSBUILD_EXPLAIN_NOOP") == "1":
        sys.stderr.write(f"ksbuild: no fast path: {why}\n")
    return False


def _load(root: str, name: str = SNAPSHOT) -> dict | None:
    try:
        with open(os.path.join(root, name), "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    enabled = gc.isenabled()
    gc.disable()  # the snapshot's objects are none of them garbage: no collector passes over them
    try:
        data = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None
    finally:
        gc.freeze()  # and never after: they live until the process ends
        if enabled:
            gc.enable()
    return data if isinstance(data, dict) and (name != SNAPSHOT or isinstance(data.get("entries"), list)) else None


def _versions_unchanged(components, fingerprint) -> bool:
    from ksbuild.versioning.gitversions import fingerprint_unchanged

    try:
        return fingerprint_unchanged(components, fingerprint)
    except (OSError, ValueError, TypeError):
        return False


def _report(root: str, data: dict, started: float) -> None:
    """The previous run's record with every target up to date (rendered when the snapshot was
    written), and the summary line."""
    from ksbuild.console import GREEN, paint, write_run_record

    count = data["count"]
    seconds = round(time.monotonic() - started, 3)
    summary = f"ksbuild: {count} tasks: 0 executed, 0 from cache, {count} up to date, 0 failed in {seconds:.1f} s"
    head = (f'{{"command": {data["command"]}, "seconds": {seconds}, "summary": "{summary}", "fast_path": true, '
            f'"counts": {{"executed": 0, "cache-hit": 0, "up-to-date": {count}, "failed": 0}}}}')  # JSON, no json import
    try:
        write_run_record(os.path.join(root, ".ksbuild", "last-run.json"), head, body=data["body"])
    except OSError:  # the record is a courtesy (a full disk): the answer stands
        pass
    sys.stdout.write(paint(summary, GREEN) + "\n")
