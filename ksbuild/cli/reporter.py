"""The run record: doit's console output, plus `.ksbuild/last-run.json` and one summary line."""
from __future__ import annotations

import os
import sys
import time

from doit.reporter import ConsoleReporter

from ksbuild import state
from ksbuild.cli.explain import run_reason
from ksbuild.console import CYAN, GREEN, RED, paint, write_run_record

RECORD_FILE = os.path.join(state.STATE_DIR, "last-run.json")
STARTED = time.monotonic()  # when ksbuild's doit glue was imported: the run's start
QUIET = os.environ.get("KSBUILD_QUIET") == "1"  # `-q`: failures and the summary line only


def is_target(task) -> bool:
    return bool(task.meta) and task.meta.get("ksbuild") == "target"


def is_planned(task) -> bool:
    """A target, or a step ksbuild planned for targets (a Go module fetch): its plan is recorded."""
    return bool(task.meta) and task.meta.get("ksbuild") in ("target", "fetch")


def counted_failure(task) -> bool:
    """A failure the summary counts: a target's, or a step targets wait for (a tool install, a Go
    module fetch): the targets behind it never run."""
    return bool(task.meta) and task.meta.get("ksbuild") in ("target", "tool", "fetch")


def is_command(task) -> bool:
    """ksbuild's commands (graph, ...) print their own output and nothing else."""
    return bool(task.meta) and task.meta.get("ksbuild") == "command"


class RunRecorder(ConsoleReporter):
    desc = "console output, plus ksbuild's run record"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.records: dict[str, dict] = {}
        self.reasons: dict[str, str] = {}
        self.began: dict[str, float] = {}
        self.new_plans: dict[str, dict] = {}  # succeeded targets whose plan changed
        self.dir_files: dict[str, dict[str, list[str]]] = {}  # succeeded targets' owned directories
        self.succeeded: list[str] = []  # targets whose output signatures the executor wrote
        self.running: set[str] = set()  # started and not finished: left over when the run is interrupted
        self.ran_command = False  # a command (verify, push...) ran: no no-op snapshot for this command line
        state.collect_in_this_process()

    def initialize(self, tasks, selected_tasks):
        self.all_tasks = tasks  # name -> doit Task: what the no-op snapshot stats

    def _snapshot(self, head: dict, tasks: list[dict], failed: bool) -> None:
        """After a successful run of targets only, the no-op fast path's snapshot (ksbuild.fastpath)."""
        from ksbuild import fastpath

        root = os.getcwd()
        if failed or self.ran_command or not getattr(self, "all_tasks", None):
            fastpath.forget(root)
            return
        from ksbuild.cli.main import INVOKED_FROM
        from ksbuild.cli.tasks import known_up_to_date

        paths, versions = snapshot_paths(root, self.all_tasks)
        kept = known_up_to_date(root)
        fastpath.write(root, INVOKED_FROM or root, sys.argv[1:], paths, tasks, versions,
                       (fastpath.previous, kept) if kept else None)

    def execute_task(self, task):
        self.ran_command = self.ran_command or is_command(task)
        if not is_command(task) and task.actions and not QUIET:
            self.write(f"{paint('.', CYAN)}  {task.title()}\n")
        if is_target(task):
            self.reasons[task.name] = run_reason(task)
        if counted_failure(task):
            self.began[task.name] = time.monotonic()
        self.running.add(task.name)

    def add_success(self, task):
        super().add_success(task)
        self.running.discard(task.name)
        if is_planned(task) and not is_target(task):
            if "parts" in task.meta:
                self.new_plans[task.name] = task.meta
        if is_target(task):
            values = task.values or {}
            meta = task.meta
            if values.get("tool_digests"):  # the binaries that actually ran, installed during this run maybe
                from ksbuild.cli.tasks import with_tool_binaries

                plan, parts = with_tool_binaries(meta["base_plan"], meta.get("parts", {}), values["tool_digests"])
                if plan != meta["plan"]:
                    meta = dict(meta, plan=plan, parts=parts)
            if "parts" in meta:
                self.new_plans[task.name] = meta
            if values.get("dir_files"):
                self.dir_files[task.name] = values["dir_files"]
            self.succeeded.append(task.name)
            record = self._record(task, values.get("status", "executed"), values.get("seconds"))
            for field in ("cache", "miss"):
                if values.get(field):
                    record[field] = values[field]

    def skip_uptodate(self, task):  # silent: a no-op prints its summary line only
        if is_target(task):
            self._record(task, "up-to-date", 0.0, reason="")

    def add_failure(self, task, fail):
        _without_traceback(fail)
        super().add_failure(task, fail)
        self.running.discard(task.name)
        if counted_failure(task):
            record = self._record(task, "failed", None)
            record["error"] = fail.get_name()

    def _write_failure(self, result, write_exception=True):
        """ksbuild's commands say what is wrong in their own words; a target's failure is named once."""
        task, fail = result["task"], result["exception"]
        if not is_command(task):
            self.write(f"{paint('FAILED', RED)} {task.name}\n")
        self.write(fail.get_msg().rstrip("\n") + "\n")

    def _record(self, task, status: str, seconds, reason: str | None = None) -> dict:
        if seconds is None:
            seconds = round(time.monotonic() - self.began.get(task.name, time.monotonic()), 3)
        record = {"task": task.name, "status": status,
                  "reason": self.reasons.get(task.name, "") if reason is None else reason,
                  "seconds": seconds}
        self.records[task.name] = record
        return record

    def complete_run(self):
        if self.runtime_errors:  # doit's own (a cycle, a missing input): failures were written as they came
            self.write("ksbuild: " + "\n".join(self.runtime_errors).strip() + "\n")
        from ksbuild.cli.tasks import known_up_to_date

        kept = _kept_records(known_up_to_date(os.getcwd()))  # left out of doit's work: proved unchanged
        if not self.records and not kept:
            return  # a run of ksbuild's commands (graph, ...), not of targets
        cut_short = bool(self.running)  # interrupted: cli.main says so, in one line
        tasks = list(self.records.values())
        counts = {status: sum(1 for r in tasks if r["status"] == status)
                  for status in ("executed", "cache-hit", "up-to-date", "failed")}
        counts["up-to-date"] += len(kept)
        seconds = round(time.monotonic() - STARTED, 3)
        summary = (f"ksbuild: {len(tasks) + len(kept)} tasks: {counts['executed']} executed, "
                   f"{counts['cache-hit']} from cache, "
                   f"{counts['up-to-date']} up to date, {counts['failed']} failed in {seconds:.1f} s")
        from ksbuild.cli.main import faults_end_the_run

        with faults_end_the_run():  # a full disk: one line naming it, exit 2
            state.record_success(os.getcwd(), self.new_plans)
            state.record_dir_files(os.getcwd(), self.dir_files)
            state.record_outputs(os.getcwd(), self.succeeded)
            head = {"command": sys.argv[1:], "seconds": seconds, "counts": counts, "summary": summary}
            write_run_record(RECORD_FILE, head, tasks, body=_with_kept(tasks, kept))
            self._snapshot(head, tasks, cut_short or counts["failed"] > 0)
        if os.environ.get("KSBUILD_PROFILE"):  # the build profile: every worker's events, merged (ksbuild.profile)
            from ksbuild.profile import finish

            with faults_end_the_run():
                finish(os.getcwd(), os.environ["KSBUILD_PROFILE"], tasks)
        if not cut_short:
            self.write(paint(summary, RED if counts["failed"] else GREEN) + "\n")


def _kept_records(kept: set[str]) -> dict[str, str]:
    """The run record's lines of the targets left out of doit's work, as the last snapshot holds them."""
    if not kept:
        return {}
    from ksbuild import fastpath

    records = fastpath.previous.records
    return {task: records[task] for task in sorted(kept) if task in records}


def _with_kept(tasks: list[dict], kept: dict[str, str]) -> str:
    """The run record's task lines, the kept targets' included."""
    if not kept:
        return ""
    import json

    return ",\n  ".join([json.dumps(task) for task in tasks] + list(kept.values()))


def _without_traceback(fail) -> None:
    """A full disk is an ordinary fault: its failure says which disk, without a Python traceback."""
    lines = fail.traceback if isinstance(fail.traceback, list) else []
    last = lines[-1] if lines else ""
    if last.startswith("ksbuild.files.DiskFull: "):
        fail.message = last.removeprefix("ksbuild.files.DiskFull: ").strip()
        fail.traceback = []


def snapshot_paths(root: str, tasks):
    """What a run of these tasks depended on (fastpath.Paths), and the versions' git state."""
    from ksbuild.cli.tasks import graph_for, versions_with_sources
    from ksbuild.fastpath import Paths
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    graph = graph_for(root)
    targets = {name: (graph.plans[name].digest, [*task.file_dep, *task.targets]) for name, task in tasks.items()
               if is_planned(task) and name in graph.plans}
    # what decides whether a target is up to date (never a cache: caches only speed the decision up)
    run = ["workspace.yaml", state.DOIT_DB, state.PLANS_FILE, state.OUTPUTS_FILE, state.DIR_FILES_FILE,
           state.PENDING_OUTPUTS_DIR]
    for pin in graph.workspace.all_tools:
        try:
            run.append(store.binary_path(pin, go_env(pin.go)) + ".sha256")
        except GoMissing:
            continue
    versions = versions_with_sources(graph)[1:] if graph.artifacts else None  # as this run read them
    return Paths(run, list(graph.watched), targets), versions
