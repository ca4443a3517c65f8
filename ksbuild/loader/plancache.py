"""Reuse the last planned graph while nothing it was planned from has changed.

A no-op build should cost little more than starting doit: instead of parsing, validating and
planning every BUILD.yaml again, ksbuild checks the timestamps of what the plan was made from
(workspace.yaml, the BUILD.yaml files, the directories that globs listed, ksbuild's own code)
and loads the pickled plan. Like git's index, it refuses to trust timestamps that are too recent
to be told apart from a change made in the same clock tick.
"""
from __future__ import annotations

import contextlib
import gc
import os
import pickle
import sys
import time

from ksbuild.model import BuildGraph

CACHE_FILE = os.path.join(".ksbuild", "plan.pickle")
FORMAT = 1
RACY_SECONDS = 2.0
UNTRUSTED = -1  # the stamp of a path too recent to trust: it never equals a file's
_PICKLE_HEAD = pickle.PROTO  # what a pickle of protocol 2 or later (as _write makes) starts with


def load_graph_cached(root: str) -> BuildGraph:
    """The cached graph while nothing it was planned from changed; else the graph planned again,
    re-planning only what the changed files touch (loader.replan)."""
    path = os.path.join(root, CACHE_FILE)
    key = _key(root)
    cached, changed = _read(path, key)
    if cached is not None and not changed:
        return cached
    from ksbuild.loader.graph import load_graph  # parsing and planning only when the cache misses

    graph = load_graph(root, cached, changed)
    _write(path, key, graph, kept=cached is not None)
    return graph


def _key(root: str) -> tuple:
    return FORMAT, sys.version, os.path.abspath(root), _code_stamp()


def _read(path: str, key: tuple) -> tuple[BuildGraph | None, set[str]]:
    """The cached graph planned by this code for this workspace, and the watched paths changed since
    (none: it is still valid). A plan pickled by other code (ksbuild changed) is merely
    stale, and replaced; one that is not a pickle of ours at all (garbage, a torn file) is corrupt:
    it is set aside with one warning (files.set_aside), then replaced."""
    try:
        with open(path, "rb") as handle:
            if handle.read(1) != _PICKLE_HEAD:
                raise pickle.UnpicklingError("not a plan pickled by ksbuild")
            handle.seek(0)
            with collection_paused():
                entry = pickle.load(handle)
    except OSError:
        return None, set()
    except (EOFError, pickle.UnpicklingError, ValueError, IndexError, KeyError, OverflowError, MemoryError,
            UnicodeDecodeError) as err:
        from ksbuild.files import set_aside

        set_aside(path, str(err) or type(err).__name__)
        return None, set()
    except (AttributeError, ImportError, TypeError):  # pickled by other code
        return None, set()
    if not isinstance(entry, dict):
        from ksbuild.files import set_aside

        set_aside(path, "not a plan pickled by ksbuild")
        return None, set()
    graph, recorded = entry.get("graph"), entry.get("stamps")
    if entry.get("key") != key or not isinstance(graph, BuildGraph) or not isinstance(recorded, list):
        return None, set()
    now = _stamps(graph.workspace.root, graph.watched)
    if len(now) != len(recorded):
        return None, set()
    return graph, {stamp[0] for stamp, old in zip(now, recorded) if stamp != old}


@contextlib.contextmanager
def collection_paused():
    """Loading a graph creates its objects all at once, none of them garbage, and they live until the
    process ends: the cyclic collector's passes over them cost about half the load. They are frozen
    out of its sight (gc.freeze) before it runs again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _write(path: str, key: tuple, graph: BuildGraph, kept: bool) -> None:
    """Cache the graph. A path changed within RACY_SECONDS could change again within the same
    timestamp tick unseen: while the cache holds an older graph (`kept`), that one stays, and the next
    run re-plans from it what changed since; otherwise the graph is written with such paths marked
    as changed, so that the next run re-plans what they touch, not the workspace."""
    for plan in graph.plans.values():
        plan.digest  # noqa: B018 (computed now, so the pickle carries it)
    stamps = _stamps(graph.workspace.root, graph.watched)
    trusted = (time.time() - RACY_SECONDS) * 1e9
    if any(stamp[1] is not None and stamp[1] > trusted for stamp in stamps):
        if kept:
            return
        stamps = [(stamp[0], UNTRUSTED, UNTRUSTED) if stamp[1] is not None and stamp[1] > trusted else stamp
                  for stamp in stamps]
    if os.path.islink(os.path.dirname(path)):
        return  # a state directory that is a link is refused when the run starts: write nothing through it
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            pickle.dump({"key": key, "stamps": stamps, "graph": graph}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _stamps(root: str, paths) -> list[tuple]:
    stamps = []
    for relative in paths:
        try:
            stat = os.stat(os.path.join(root, relative))
            stamps.append((relative, stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((relative, None, None))
    return stamps


def _code_stamp() -> tuple:
    """ksbuild's own sources: a changed rule or planner invalidates every cached plan."""
    from ksbuild.fastpath import code_stamp

    return tuple(map(tuple, code_stamp()))

