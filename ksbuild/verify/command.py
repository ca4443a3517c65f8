"""`doit verify [--worktree] [--junit FILE] [--json FILE]`: exit 0 when every derived file is right,
1 when something is wrong, 2 for a usage or configuration error."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace


def verify(root: str, worktree: bool, junit: str, json: str):  # noqa: A002 (doit passes params by name)
    from doit.exceptions import TaskError

    from ksbuild.errors import ConfigError
    from ksbuild.verify import materialize

    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="ksbuild-verify-")
    try:
        try:
            make = materialize.working_tree if worktree else materialize.committed
            checkout = make(root, scratch)
        except materialize.NotARepository as err:
            return TaskError(f"verify: {err}; it checks a git checkout (commit the workspace first)")
        try:
            checkout, checks, extra = _check(root, checkout, worktree)
        except ConfigError as err:
            return TaskError(f"verify: the checked tree's workspace is wrong:\n{err}")
        return _report(root, checkout, worktree, checks, extra, junit, json, time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check(root: str, checkout, worktree: bool):
    """The checks, and the checkout with only its relevant uncommitted paths."""
    from ksbuild.cli.tasks import cache_config, graph_for, prepare_state_dir
    from ksbuild.loader.graph import load_graph
    from ksbuild.verify import derived
    from ksbuild.verify.history import HandEdits
    from ksbuild.verify.materialize import _repo

    graph = load_graph(checkout.root)  # refuses floating tool pins, unknown keys...: a configuration error
    prepare_state_dir(checkout.root)
    config = cache_config(graph_for(root))  # the real workspace's caches, wherever its settings put them
    history = HandEdits(_repo(root), root, "HEAD", checkout.uncommitted, worktree)
    checks = derived.check(checkout.root, graph, config, history)
    checkout = replace(checkout, uncommitted=_relevant(graph, checkout.uncommitted))
    pins = ", ".join(f"{t.name} {t.version}" for t in graph.workspace.tools)
    return checkout, checks, [("tool-pins" + (f" ({pins})" if pins else ""), "")]


def _relevant(graph, paths) -> tuple[str, ...]:
    """The uncommitted paths that matter to derived files: inputs, outputs, build files."""
    plans = [p for p in graph.plans.values() if p.generated]
    files = {path for plan in plans for path in plan.inputs + plan.outputs}
    dirs = tuple(d + "/" for plan in plans for d in plan.output_dirs)
    return tuple(p for p in paths if p in files or p.startswith(dirs) or p == "workspace.yaml"
                 or p.endswith("/BUILD.yaml") or p == "BUILD.yaml")


def _report(root, checkout, worktree, checks, extra, junit, json_path, seconds):
    from doit.exceptions import TaskError, TaskFailed

    from ksbuild.verify import report

    sys.stdout.write(report.summary(checkout.revision, worktree, checks, checkout.uncommitted, seconds))
    try:
        if junit:
            _write(root, junit, report.junit(checks, extra))
        if json_path:
            _write(root, json_path, report.as_json(checkout.revision, worktree, checks, checkout.uncommitted).encode())
    except OSError as err:
        return TaskError(f"verify: cannot write a report: {err}")
    problems = sum(len(c.findings) for c in checks)
    if problems:
        return TaskFailed(f"verify: {problems} derived file(s) are not what the build produces")
    return None


def _write(root: str, path: str, data: bytes) -> None:
    with open(os.path.join(root, path), "wb") as handle:
        handle.write(data)
