"""Reuse the last planned graph while nothing it was planned from has changed.

A no-op build should cost little more than starting doit: instead of parsing, validating and
planning every BUILD.yaml again, ksbuild checks the timestamps of what the plan was made from
(workspace.yaml, the BUILD.yaml files, the directories that globs listed, ksbuild's own code)
and loads the pickled plan. Like git's index, it refuses to trust timestamps that are too recent
to be told apart from a change made in the same clock tick.
"""
from __future__ import annotations

import os
import pickle
import sys
import time

from ksbuild.model import BuildGraph

CACHE_FILE = os.path.join(".ksbuild", "plan.pickle")
FORMAT = 1
RACY_SECONDS = 2.0
_PICKLE_HEAD = pickle.PROTO  # what a pickle of protocol 2 or later (as _write makes) starts with


def load_graph_cached(root: str) -> BuildGraph:
    path = os.path.join(root, CACHE_FILE)
    key = _key(root)
    cached = _read(path, key)
    if cached is not None:
        return cached
    from ksbuild.loader.graph import load_graph  # parsing and planning only when the cache misses

    graph = load_graph(root)
    _write(path, key, graph)
    return graph


def _key(root: str) -> tuple:
    return FORMAT, sys.version, os.path.abspath(root), _code_stamp()


def _read(path: str, key: tuple) -> BuildGraph | None:
    """The cached graph, if still valid. A plan pickled by other code (ksbuild changed) is merely
    stale, and replaced; one that is not a pickle of ours at all (garbage, a torn file) is corrupt:
    it is set aside with one warning (files.set_aside), then replaced."""
    try:
        with open(path, "rb") as handle:
            if handle.read(1) != _PICKLE_HEAD:
                raise pickle.UnpicklingError("not a plan pickled by ksbuild")
            handle.seek(0)
            entry = pickle.load(handle)
    except OSError:
        return None
    except (EOFError, pickle.UnpicklingError, ValueError, IndexError, KeyError, OverflowError, MemoryError,
            UnicodeDecodeError) as err:
        from ksbuild.files import set_aside

        set_aside(path, str(err) or type(err).__name__)
        return None
    except (AttributeError, ImportError, TypeError):  # pickled by other code
        return None
    if not isinstance(entry, dict):
        from ksbuild.files import set_aside

        set_aside(path, "not a plan pickled by ksbuild")
        return None
    if entry.get("key") != key:
        return None
    graph = entry.get("graph")
    if not isinstance(graph, BuildGraph) or entry.get("stamps") != _stamps(graph.workspace.root, graph.watched):
        return None
    return graph


def _write(path: str, key: tuple, graph: BuildGraph) -> None:
    for plan in graph.plans.values():
        plan.digest  # noqa: B018 (computed now, so the pickle carries it)
    stamps = _stamps(graph.workspace.root, graph.watched)
    newest = max((stamp[1] for stamp in stamps if stamp[1] is not None), default=0)
    if newest > (time.time() - RACY_SECONDS) * 1e9:
        return  # a change within the same tick would go unseen: plan again next time
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

