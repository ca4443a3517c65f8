"""The derived-files check: every generated target rebuilt in the checkout (through the one
executor, so a warm action cache runs no tool), its outputs compared byte for byte with what the
checkout held before."""
from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass, field

from ksbuild.exec.sandbox import files_under
from ksbuild.model import BuildGraph, TargetPlan
from ksbuild.verify.history import transitive_sources
from ksbuild.verify.yamldiff import describe

DIFF_LINES = 60  # lines of a unified diff shown per stale file


@dataclass(frozen=True)
class Finding:
    kind: str  # stale, missing, extra, hand-edited, failed
    path: str  # workspace-relative
    target: str  # the task that owns it
    fix: str  # the command that fixes it
    detail: str = ""  # what differs (for YAML, the data first, then a unified diff), or what happened
    committed: bytes | None = field(default=None, repr=False, compare=False)  # for `verify --patch`
    generated: bytes | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "target": self.target, "fix": self.fix, "detail": self.detail}


@dataclass
class TargetCheck:
    task: str
    status: str = ""  # how the outputs were made: executed or cache-hit
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)


def check(root: str, graph: BuildGraph, cache_config, history, say=None) -> list[TargetCheck]:
    """Rebuild every generated target in the checkout at `root` and compare. `history` answers
    whether a stale file was edited by hand (see HandEdits); `say(line)` hears of each target."""
    from ksbuild.exec.executor import run_target

    from ksbuild.rules.gofetch import is_fetch

    for fetch in (plan for plan in graph.plans.values() if is_fetch(plan)):  # modules first: Go actions are offline
        outcome = run_target(root, fetch.label.task, fetch.parts["rule"], fetch.actions, cache_config)
        if not isinstance(outcome, dict):
            return [TargetCheck(fetch.label.task, "failed", 0.0, [Finding(
                "failed", fetch.outputs[0], fetch.label.task, f"doit {fetch.label.task}", str(outcome.message))])]
    plans = [plan for plan in graph.plans.values() if plan.generated]
    before = {plan.label.task: _snapshot(root, plan) for plan in plans}
    _install_tools(graph)
    results = []
    for plan in plans:  # dependencies first
        started = time.monotonic()
        outcome = run_target(root, plan.label.task, plan.parts["rule"], plan.actions, cache_config)
        result = TargetCheck(plan.label.task, seconds=round(time.monotonic() - started, 3))
        if isinstance(outcome, dict):
            result.status = outcome["status"]
            result.findings = _compare(plan, before[plan.label.task], _snapshot(root, plan), history, graph)
        else:
            result.status = "failed"
            result.findings = [Finding("failed", plan.outputs[0] if plan.outputs else plan.output_dirs[0],
                                       plan.label.task, f"doit {plan.label.task}", str(outcome.message))]
        results.append(result)
        if say:
            verdict = f"{len(result.findings)} problem(s)" if result.findings else "ok"
            say(f"{plan.label.task}: {verdict} ({result.status}, {result.seconds:.1f} s)")
    return results


def _snapshot(root: str, plan: TargetPlan) -> dict[str, bytes]:
    """The target's output files as they are now: declared files and everything in owned dirs."""
    paths = list(plan.outputs)
    for directory in plan.output_dirs:
        paths += [f"{directory}/{name}" for name in files_under(os.path.join(root, directory))]
    found = {}
    for path in paths:
        try:
            with open(os.path.join(root, path), "rb") as handle:
                found[path] = handle.read()
        except OSError:
            pass
    return found


def _compare(plan: TargetPlan, committed: dict[str, bytes], generated: dict[str, bytes], history,
             graph: BuildGraph) -> list[Finding]:
    task = plan.label.task
    fix = fix_for(plan, graph)
    findings = []
    sources = None  # what the target is made from, found once and only for a stale file
    for path in sorted(set(committed) | set(generated)):
        old, new = committed.get(path), generated.get(path)
        if old == new:
            continue
        if old is None:
            findings.append(Finding("missing", path, task, fix, "the build produces it; it is not committed",
                                    old, new))
        elif new is None:
            findings.append(Finding("extra", path, task, fix, "in a directory the target owns, but no longer "
                                    "produced (a deleted type's file?)", old, new))
        else:
            sources = sources if sources is not None else transitive_sources(graph, plan)
            edited = history.hand_edited(path, sources)
            findings.append(Finding("hand-edited" if edited else "stale", path, task, fix,
                                    (edited + "\n" if edited else "") + difference(path, old, new), old, new))
    return findings


def fix_for(plan: TargetPlan, graph: BuildGraph) -> str:
    """What fixes the target's wrong derived files: regenerate and commit them, unless its component
    was fetched from another repository, whose commit (in workspace.lock) holds them."""
    from ksbuild.loader.gitsource import SRC_DIR, locked

    if not plan.target.component_dir.startswith(SRC_DIR + "/"):
        return f"doit {plan.label.task} (or doit generate), then commit"
    entry = locked(graph.workspace.root, plan.label.component)
    return (f"the upstream commit {str(entry.get('commit', '?'))[:12]} of {entry.get('git', '?')} holds stale derived "
            "files: report it upstream, or pin a newer rev in workspace.yaml")


def difference(path: str, old: bytes, new: bytes) -> str:
    """For YAML, what differs in the data first (a re-indented file's text diff hides it), then the text diff."""
    meaning = describe(path, old, new)
    return (meaning + "\n" if meaning else "") + unified_diff(path, old, new)


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    if b"\0" in old or b"\0" in new:
        return f"binary content differs ({len(old)} bytes committed, {len(new)} generated)"
    lines = list(difflib.unified_diff(old.decode(errors="replace").splitlines(keepends=True),
                                      new.decode(errors="replace").splitlines(keepends=True),
                                      fromfile=f"committed/{path}", tofile=f"generated/{path}"))
    shown = "".join(line if line.endswith("\n") else line + "\n" for line in lines[:DIFF_LINES])
    if len(lines) > DIFF_LINES:
        shown += f"... ({len(lines) - DIFF_LINES} more lines of diff)\n"
    return shown.rstrip("\n")


def _install_tools(graph: BuildGraph) -> None:
    """The tools the generated targets use (a no-op when installed; a warm cache needs them only
    to name their binaries in action keys)."""
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import go_env

    used = {tool for plan in graph.plans.values() if plan.generated for a in plan.actions for tool in a.all_tools}
    for pin in sorted(used, key=lambda t: t.task):
        store.install(pin, go_env(pin.go))
