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

import marshal
import os
import sys
import time

SNAPSHOT = os.path.join(".ksbuild", "noop.snapshot")
FORMAT = 1
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


def _digest(path: str) -> str | None:
    import hashlib  # only for a file written just before its snapshot

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:  # a directory, or gone: its signature says enough
        return None


def write(root: str, cwd: str, argv: list[str], paths, record: dict, versions=None) -> None:
    """Record the snapshot after a run that succeeded. `paths`: workspace-relative or absolute files
    and directories; `record`: the run record (last-run.json's head and tasks) to answer with;
    `versions`: (components, fingerprint) of the git state, or None."""
    from ksbuild.files import write_atomically

    now = time.time_ns()
    entries = []
    for path in sorted(set(paths)):
        full = os.path.join(root, path)
        signature = _signature(full)
        racy = signature is not None and signature[0] >= now - TRUSTED_AGE_NS
        entries.append((full, signature, _digest(full) if racy else None))
    import json

    noop = ",\n  ".join(json.dumps(dict(task, status="up-to-date", reason="", seconds=0.0)) for task in record["tasks"])
    data = {"key": _key(root, cwd, argv), "entries": entries, "tasks": len(record["tasks"]), "noop": noop,
            "versions": versions}
    write_atomically(os.path.join(root, SNAPSHOT), marshal.dumps(data))


def forget(root: str) -> None:
    try:
        os.unlink(os.path.join(root, SNAPSHOT))
    except OSError:
        pass


def answer(root: str, cwd: str, argv: list[str], started: float) -> bool:
    """When nothing the last successful run of this command line depended on has changed: print its
    summary line, write its run record, and return True. Otherwise (or on any doubt) False."""
    data = _load(root)
    if data is None or data.get("key") != _key(root, cwd, argv):
        return _not_taken("another command line, directory, environment or ksbuild")
    try:
        for full, signature, digest in data["entries"]:
            if _signature(full) != signature or (digest is not None and _digest(full) != digest):
                return _not_taken(f"{full} changed")
        if data.get("versions") and not _versions_unchanged(*data["versions"]):
            return _not_taken("the git state versions come from changed")
        if not isinstance(data["tasks"], int) or not isinstance(data["noop"], str):
            return _not_taken("the snapshot is not ksbuild's")
    except (KeyError, TypeError, ValueError):  # not what write() makes: the normal path decides
        return _not_taken("the snapshot is not ksbuild's")
    _report(root, data, started)
    return True


def _not_taken(why: str) -> bool:
    if os.environ.get("KSBUILD_EXPLAIN_NOOP") == "1":
        sys.stderr.write(f"ksbuild: no fast path: {why}\n")
    return False


def _load(root: str) -> dict | None:
    try:
        with open(os.path.join(root, SNAPSHOT), "rb") as handle:
            data = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("entries"), list) else None


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

    count = data["tasks"]
    seconds = round(time.monotonic() - started, 3)
    summary = f"ksbuild: {count} tasks: 0 executed, 0 from cache, {count} up to date, 0 failed in {seconds:.1f} s"
    head = {"command": sys.argv[1:], "seconds": seconds, "summary": summary, "fast_path": True,
            "counts": {"executed": 0, "cache-hit": 0, "up-to-date": count, "failed": 0}}
    try:
        write_run_record(os.path.join(root, ".ksbuild", "last-run.json"), head, body=data["noop"])
    except OSError:  # the record is a courtesy (a full disk): the answer stands
        pass
    sys.stdout.write(paint(summary, GREEN) + "\n")
