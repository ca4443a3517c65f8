"""`doit verify [--worktree] [--junit FILE] [--json FILE]`: exit 0 when every derived file is right,
1 when something is wrong, 2 for a usage or configuration error."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace


def verify(root: str, worktree: bool, junit: str, json: str, patch: str):  # noqa: A002 (by name)
    from doit.exceptions import TaskError

    from ksbuild.errors import ConfigError
    from ksbuild.verify import materialize

    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="ksbuild-verify-")
    try:
        try:
            if worktree:
                checkout = materialize.working_tree(root, scratch)
            else:
                checkout = materialize.committed(root, scratch, only=lambda repo, changed: _needed(root, repo, changed))
        except materialize.NotARepository as err:
            return TaskError(f"verify: {err}; it checks a git checkout (commit the workspace first)")
        try:
            checkout, checks, extra = _check(root, checkout, worktree)
        except ConfigError as err:
            return TaskError(f"verify: the checked tree's workspace is wrong:\n{err}")
        return _report(root, checkout, worktree, checks, extra, (junit, json, patch), time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _needed(root: str, repo, changed) -> set[str] | None:
    """The paths the checks read from the commit, when the working tree's plan is the commit's (verify.sparse)."""
    from ksbuild.cli.tasks import graph_for
    from ksbuild.errors import ConfigError
    from ksbuild.verify.sparse import committed_files, needed_paths

    try:
        graph = graph_for(root)
    except ConfigError:
        return None  # the working tree does not plan: the commit is planned on its own
    return needed_paths(root, graph, committed_files(repo, root), changed)


def _check(root: str, checkout, worktree: bool):
    """The checks, and the checkout with only its relevant uncommitted paths."""
    from ksbuild.cli.tasks import cache_config, graph_for, prepare_state_dir
    from ksbuild.loader.graph import load_graph
    from ksbuild.verify import derived
    from ksbuild.verify.history import HandEdits
    from ksbuild.verify.materialize import open_repo

    if checkout.sparse:  # the working tree's plan, for the checkout
        planned = graph_for(root)
        graph = replace(planned, workspace=replace(planned.workspace, root=checkout.root))
    else:
        graph = load_graph(checkout.root)  # refuses floating tool pins, unknown keys...: a configuration error
    prepare_state_dir(checkout.root)
    config = cache_config(graph_for(root))  # the real workspace's caches, wherever its settings put them
    history = HandEdits(open_repo(root), root, "HEAD", checkout.uncommitted, worktree)
    # references are judged in the files as committed (or as in the working tree), the ones
    # `doit versions` reads: before the derived-files check rebuilds them in the checkout
    references = _reference_problems(root, checkout.root, graph) if graph.artifacts else None
    quiet = os.environ.get("KSBUILD_QUIET") == "1"
    checks = derived.check(checkout.root, graph, config, history,
                           None if quiet else lambda line: _say(f"ksbuild verify: {line}"))
    checkout = replace(checkout, uncommitted=_relevant(graph, checkout.uncommitted))
    pins = ", ".join(f"{t.name} {t.version}" for t in graph.workspace.all_tools)
    extra = [("tool-pins" + (f" ({pins})" if pins else ""), "")]
    if references is not None:
        extra.append(("references", references))
    return checkout, checks, extra


def _reference_problems(root: str, checkout_root: str, graph) -> str:
    """Every version reference in the checked tree, judged; versions come from the real repository."""
    from ksbuild.versioning.check import check_references
    from ksbuild.versioning.gitversions import fetched_outputs, versions

    publishing = {a.label.component for a in graph.artifacts}
    found = versions(root, [(c.name, os.path.join(root, c.path), c.tags, fetched_outputs(graph, c))
                            for c in graph.workspace.components if c.name in publishing])  # git asked once
    wrong = [c for c in check_references(checkout_root, graph, found) if not c.ok]
    return "\n".join(f"{c.where}: {c.artifact}: expected {c.expected!r}, found {c.found!r}: {c.message}"
                     for c in wrong)


def _relevant(graph, paths) -> tuple[str, ...]:
    """The uncommitted paths that matter: inputs and outputs of targets (stamped files too), build files."""
    plans = list(graph.plans.values())
    files = {path for plan in plans for path in plan.inputs + plan.outputs}
    dirs = tuple(d + "/" for plan in plans for d in plan.output_dirs)
    return tuple(p for p in paths if p in files or p.startswith(dirs) or p == "workspace.yaml"
                 or p.endswith("/BUILD.yaml") or p == "BUILD.yaml")


def _report(root, checkout, worktree, checks, extra, reports, seconds):
    """The summary, the reports asked for (JUnit, JSON, a patch), and annotations under GitHub Actions."""
    from doit.exceptions import TaskError, TaskFailed

    from ksbuild.verify import fixes, report

    junit, json_path, patch_path = reports
    sys.stdout.write(report.summary(checkout.revision, worktree, checks, extra, checkout.uncommitted, seconds,
                                    checkout.written if checkout.sparse else 0))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        sys.stdout.write(fixes.annotations(checks, extra))
    try:
        if junit:
            _write(root, junit, report.junit(checks, extra))
        if json_path:
            _write(root, json_path, report.as_json(checkout.revision, worktree, checks, extra,
                                                   checkout.uncommitted).encode())
        if patch_path:
            text, skipped = fixes.patch(checks, _repository_prefix(root))
            _write(root, patch_path, text.encode("utf-8", "surrogateescape"))
            sys.stdout.write(f"ksbuild verify: wrote {patch_path}" + (": `git apply " + patch_path + "` fixes the "
                             "derived files" if text else " (empty: nothing to fix)")
                             + (f"; not in it (binary): {', '.join(skipped)}" if skipped else "") + "\n")
    except OSError as err:
        return TaskError(f"verify: cannot write a report: {err}")
    problems = sum(len(c.findings) for c in checks) + sum(len(message.splitlines()) for _, message in extra)
    if problems:
        return TaskFailed(f"verify: {problems} problem(s): derived files or version references are wrong")
    return None


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _repository_prefix(root: str) -> str:
    """The workspace's directory inside its git repository ('' at the top), as patches name paths."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=root, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _write(root: str, path: str, data: bytes) -> None:
    with open(os.path.join(root, path), "wb") as handle:
        handle.write(data)
