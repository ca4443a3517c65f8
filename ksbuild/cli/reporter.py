"""The run record: doit's console output, plus `.ksbuild/last-run.json` and one summary line."""
from __future__ import annotations

import json
import os
import sys
import time

from doit.reporter import ConsoleReporter

from ksbuild import state
from ksbuild.cli.explain import run_reason
from ksbuild.files import write_atomically

RECORD_FILE = os.path.join(state.STATE_DIR, "last-run.json")
QUIET = os.environ.get("KSBUILD_QUIET") == "1"  # `-q`: failures and the summary line only
# Colour on a terminal only, and never when NO_COLOR is set (no-color.org)
COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
RED, GREEN, CYAN = "31", "32", "36"


def _paint(text: str, colour: str) -> str:
    return f"\033[{colour}m{text}\033[0m" if COLOUR else text
STARTED = time.monotonic()  # when ksbuild's doit glue was imported: the run's start


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

    def execute_task(self, task):
        if not is_command(task) and task.actions and not QUIET:
            self.write(f"{_paint('.', CYAN)}  {task.title()}\n")
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
            self.write(f"{_paint('FAILED', RED)} {task.name}\n")
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
        if not self.records:
            return  # a run of ksbuild's commands (graph, ...), not of targets
        cut_short = bool(self.running)  # interrupted: cli.main says so, in one line
        tasks = list(self.records.values())
        counts = {status: sum(1 for r in tasks if r["status"] == status)
                  for status in ("executed", "cache-hit", "up-to-date", "failed")}
        seconds = round(time.monotonic() - STARTED, 3)
        summary = (f"ksbuild: {len(tasks)} tasks: {counts['executed']} executed, {counts['cache-hit']} from cache, "
                   f"{counts['up-to-date']} up to date, {counts['failed']} failed in {seconds:.1f} s")
        from ksbuild.cli.main import faults_end_the_run

        with faults_end_the_run():  # a full disk: one line naming it, exit 2
            state.record_success(os.getcwd(), self.new_plans)
            state.record_dir_files(os.getcwd(), self.dir_files)
            state.record_outputs(os.getcwd(), self.succeeded)
            _write_record(RECORD_FILE, {"command": sys.argv[1:], "seconds": seconds, "counts": counts,
                                        "summary": summary}, tasks)
        if os.environ.get("KSBUILD_PROFILE"):  # the build profile: every worker's events, merged (ksbuild.profile)
            from ksbuild.profile import finish

            with faults_end_the_run():
                finish(os.getcwd(), os.environ["KSBUILD_PROFILE"], tasks)
        if not cut_short:
            self.write(_paint(summary, RED if counts["failed"] else GREEN) + "\n")


def _without_traceback(fail) -> None:
    """A full disk is an ordinary fault: its failure says which disk, without a Python traceback."""
    lines = fail.traceback if isinstance(fail.traceback, list) else []
    last = lines[-1] if lines else ""
    if last.startswith("ksbuild.files.DiskFull: "):
        fail.message = last.removeprefix("ksbuild.files.DiskFull: ").strip()
        fail.traceback = []


def _write_record(path: str, head: dict, tasks: list[dict]) -> None:
    """JSON with one task per line: readable, and written by json's fast encoder."""
    body = ",\n  ".join(json.dumps(task) for task in tasks)
    write_atomically(path, (json.dumps(head)[:-1] + ',\n "tasks": [\n  ' + body + "\n ]\n}\n").encode())
