"""`doit report`: the last run as one static HTML page (no scripts, nothing fetched).

Its summary and cache hit rate, its critical path, its slowest targets and, when the run was
profiled (`--profile FILE`), its slowest actions and where their time went, phase by phase.
"""
from __future__ import annotations

import html
import os
import time

from ksbuild.files import DiskFull, write_atomically
from ksbuild.profile.analysis import (NoRunRecorded, Run, critical_path, load_run, phase_totals, slowest_actions,
                                      slowest_targets)
from ksbuild.state import STATE_DIR

DEFAULT_OUT = os.path.join(STATE_DIR, "report.html")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: .2em .8em .2em 0; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; } .name { font-family: ui-monospace, monospace; }
.bar { background: #4a7fc1; height: .8em; display: inline-block; min-width: 1px; }
.status-failed { color: #b00; } .status-cache-hit { color: #080; } .note { color: #666; }
ol.path li { margin: .2em 0; }
"""


def write_report(root: str, out: str = "") -> str:
    """Write the report of the run recorded under `root` to `out` (relative: to `root`; default
    .ksbuild/report.html); returns the path written. NoRunRecorded when there is no run record."""
    run = load_run(root)
    deps, note = _dependencies(root)
    path = os.path.join(root, out or DEFAULT_OUT)
    write_atomically(path, render(run, critical_path(run, deps), note).encode())
    return path


def report_command(root: str, out: str = ""):
    """doit python-action of `doit report`: one line saying where, or TaskFailed saying why not."""
    from doit.exceptions import TaskFailed

    try:
        path = write_report(root, out)
    except NoRunRecorded as err:
        return TaskFailed(f"report: {err}")
    except DiskFull as err:
        return TaskFailed(str(err))  # names the disk
    except OSError as err:  # a directory in the way, no permission
        return TaskFailed(f"report: cannot write {out or DEFAULT_OUT}: {err.strerror or err}")
    print(f"ksbuild: report written to {path}")
    return None


def render(run: Run, path: list[dict], note: str = "") -> str:
    """The page: `path` is the critical path, `note` says why it may be incomplete."""
    counts = run.counts
    run_seconds = run.head.get("seconds") or 0.0
    command = run.head.get("command") if isinstance(run.head.get("command"), list) else []
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>ksbuild: the last run</title><style>{STYLE}</style></head><body>",
             "<h1>ksbuild: the last run</h1>",
             f"<p class=\"note\">{_e(' '.join(['doit', *map(str, command)]))} "
             f"&middot; recorded {_e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(run.recorded)))}</p>",
             "<section id=\"summary\"><h2>Summary</h2><table>"]
    rate = run.hit_rate
    rows = [("targets", str(len(run.tasks))), ("executed", str(counts["executed"])),
            ("from cache", str(counts["cache-hit"])), ("up to date", str(counts["up-to-date"])),
            ("failed", str(counts["failed"])), ("total time", _seconds(run_seconds)),
            ("cache hit rate", f"{rate:.0%} ({counts['cache-hit']} of {counts['executed'] + counts['cache-hit']} "
                               "targets that had to be made)" if rate is not None else "n/a (nothing had to be made)")]
    parts += [f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in rows]
    parts.append("</table></section>")
    parts += _critical_path(path, run_seconds, note)
    parts += _slowest_targets(slowest_targets(run))
    parts += _profile(run)
    failed = [t for t in run.tasks if t["status"] == "failed"]
    if failed:
        parts.append("<section id=\"failed\"><h2>Failed</h2><table>")
        parts += [f"<tr><td class=\"name status-failed\">{_e(t['task'])}</td><td>{_e(t.get('error', ''))}</td></tr>"
                  for t in failed]
        parts.append("</table></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _critical_path(path: list[dict], run_seconds: float, note: str) -> list[str]:
    parts = ["<section id=\"critical-path\"><h2>Critical path</h2>"]
    if note:
        parts.append(f"<p class=\"note\">{_e(note)}</p>")
    if not path:
        return parts + ["<p>Nothing took time: every target was up to date.</p></section>"]
    total = sum(t["seconds"] for t in path)
    share = f" of the run&#x27;s {_e(_seconds(run_seconds))}" if run_seconds else ""
    parts.append(f"<p>The chain of dependent targets that took longest, first built first: "
                 f"{_e(_seconds(total))}{share}.</p><ol class=\"path\">")
    parts += [f"<li><span class=\"name\">{_e(t['task'])}</span> {_e(_seconds(t['seconds']))} "
              f"<span class=\"status-{_e(t['status'])}\">{_e(t['status'])}</span> {_bar(t['seconds'], total)}</li>"
              for t in path]
    return parts + ["</ol></section>"]


def _slowest_targets(targets: list[dict]) -> list[str]:
    parts = ["<section id=\"slowest-targets\"><h2>Slowest targets</h2>"]
    if not targets:
        return parts + ["<p>None: every target was up to date.</p></section>"]
    longest = targets[0]["seconds"]
    parts.append("<table><tr><th>target</th><th class=\"num\">seconds</th><th>status</th><th>why it ran</th>"
                 "<th></th></tr>")
    parts += [f"<tr><td class=\"name\">{_e(t['task'])}</td><td class=\"num\">{_e(_seconds(t['seconds']))}</td>"
              f"<td class=\"status-{_e(t['status'])}\">{_e(t['status'])}</td><td>{_e(t.get('reason', ''))}</td>"
              f"<td>{_bar(t['seconds'], longest)}</td></tr>" for t in targets]
    return parts + ["</table></section>"]


def _profile(run: Run) -> list[str]:
    if not run.events:
        return ["<section id=\"phases\"><h2>Phases</h2><p class=\"note\">No profile of this run: build with "
                "<code>--profile FILE</code> (or KSBUILD_PROFILE=FILE) to see its slowest actions and where "
                "their time went.</p></section>"]
    actions = slowest_actions(run)
    parts = ["<section id=\"slowest-actions\"><h2>Slowest actions</h2><table><tr><th>target</th>"
             "<th class=\"num\">action</th><th>mnemonic</th><th class=\"num\">seconds</th><th>phases</th></tr>"]
    parts += [f"<tr><td class=\"name\">{_e(a['task'])}</td><td class=\"num\">{_e(a['index'])}</td>"
              f"<td>{_e(a['mnemonic'])}</td><td class=\"num\">{_e(_seconds(a['seconds']))}</td><td>"
              + _e(", ".join(f"{name} {_seconds(s)}" for name, s in a["phases"].items())) + "</td></tr>"
              for a in actions]
    parts.append("</table></section>")
    totals = phase_totals(run)
    everything = sum(t["seconds"] for t in totals) or 1.0
    parts.append("<section id=\"phases\"><h2>Phases</h2><p>Every action&#x27;s time, by phase, over all "
                 "workers.</p><table><tr><th>phase</th><th class=\"num\">count</th><th class=\"num\">seconds</th>"
                 "<th class=\"num\">share</th><th class=\"num\">longest</th><th></th></tr>")
    parts += [f"<tr><td>{_e(t['phase'])}</td><td class=\"num\">{_e(t['count'])}</td>"
              f"<td class=\"num\">{_e(_seconds(t['seconds']))}</td>"
              f"<td class=\"num\">{_e(format(t['seconds'] / everything, '.0%'))}</td>"
              f"<td class=\"num\">{_e(_seconds(t['longest']))}</td><td>{_bar(t['seconds'], everything)}</td></tr>"
              for t in totals]
    return parts + ["</table></section>"]


def _dependencies(root: str) -> tuple[dict[str, list[str]], str]:
    """Each target's dependencies, from the workspace's graph as it is now; a note when it does not load."""
    from ksbuild.errors import ConfigError

    try:
        from ksbuild.cli.tasks import graph_for

        graph = graph_for(root)
    except ConfigError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "it has problems"
        return {}, f"Dependencies unknown (the workspace does not load: {first}): each target is its own chain."
    return {task: [dep.task for dep in plan.deps] for task, plan in graph.plans.items()}, ""


def _bar(value: float, whole: float) -> str:
    width = 0.0 if whole <= 0 else min(100.0, 100.0 * value / whole)
    return f"<span class=\"bar\" style=\"width: {width * 2:.1f}px\"></span>"


def _seconds(value: float) -> str:
    if value < 0.9995:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def _e(value) -> str:
    return html.escape(str(value), quote=True)
