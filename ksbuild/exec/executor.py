"""The one executor: every action of every rule runs through `run_target`.

An action runs in its own sandbox; only when it succeeded and produced every declared output
are the outputs moved into the workspace, each by an atomic rename. A failure or an interrupt
leaves the previous outputs untouched.
"""
from __future__ import annotations

import filecmp
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid

from ksbuild.exec.builtins import BUILTINS
from ksbuild.exec.sandbox import Sandbox, files_under, sandbox_for
from ksbuild.model import ActionSpec

OUTPUT_LIMIT = 20_000  # characters of a failed command's output shown


class ActionFailed(Exception):
    """An action did not produce its outputs; the message says what ran and what it printed."""


def run_target(root: str, task: str, actions: tuple[ActionSpec, ...]):
    """doit action: run every action of one target in order. Returns what doit stores as the
    task's values (how it went), or doit's TaskFailed."""
    started = time.monotonic()
    notes = []
    try:
        for action in actions:
            notes.extend(run_action(root, action))
    except ActionFailed as failure:
        from doit.exceptions import TaskFailed

        return TaskFailed(f"{task}: {failure}")
    if notes:
        print("\n".join(notes))
    return {"status": "executed", "seconds": round(time.monotonic() - started, 3)}


def run_action(root: str, action: ActionSpec) -> list[str]:
    """Run one action in a fresh sandbox and commit its outputs; returns warnings to show."""
    keep = os.environ.get("KSBUILD_KEEP_SANDBOX") == "1"
    with sandbox_for(root, action, keep=keep) as box:
        output = _execute(box, action)
        produced = files_under(box.root)
        missing = [exec_path for exec_path, _ in action.outputs if exec_path not in produced]
        if missing:
            raise ActionFailed(_describe(action, box, "did not produce declared output(s): " + ", ".join(missing),
                                         output))
        declared = {p for p, _ in action.inputs} | {p for p, _ in action.outputs}
        undeclared = sorted(produced - declared)
        _commit(root, box, action.outputs)
    if undeclared:
        shown = ", ".join(undeclared[:10]) + (f" and {len(undeclared) - 10} more" if len(undeclared) > 10 else "")
        return [f"ksbuild: {action.description}: dropped undeclared file(s): {shown}"]
    return []


def _execute(box: Sandbox, action: ActionSpec) -> str:
    cwd = box.path(action.cwd)
    if action.builtin:
        try:
            BUILTINS[action.builtin](cwd, action.argv)
        except OSError as err:
            raise ActionFailed(_describe(action, box, f"failed: {err}", "")) from None
        return ""
    try:
        process = subprocess.Popen(action.argv, cwd=cwd, env=box.environment(action), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as err:
        raise ActionFailed(_describe(action, box, f"could not start: {err.strerror}", "",
                                     hint="Is the program installed, and on the sandbox PATH?")) from None
    try:
        stdout, _ = process.communicate()
    except BaseException:
        _stop(process)
        raise
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        raise ActionFailed(_describe(action, box, f"failed with exit code {process.returncode}", output))
    return output


def _stop(process: subprocess.Popen) -> None:
    """End the action's whole process group: first politely, then for good."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _describe(action: ActionSpec, box: Sandbox, what: str, output: str, hint: str = "") -> str:
    command = f"[builtin {action.builtin}] " + shlex.join(action.argv) if action.builtin else shlex.join(action.argv)
    if len(output) > OUTPUT_LIMIT:
        output = f"[... {len(output) - OUTPUT_LIMIT} characters cut ...]\n" + output[-OUTPUT_LIMIT:]
    lines = [f"{action.mnemonic} {what}", f"  command: {command}",
             f"  in:      {action.cwd} (a sandbox holding only the declared inputs)"]
    if os.environ.get("KSBUILD_KEEP_SANDBOX") == "1":
        lines.append(f"  sandbox kept at {box.root}")
    if hint:
        lines.append(f"  {hint}")
    if output.strip():
        lines.append("  output:")
        lines.extend("    " + line for line in output.rstrip().splitlines())
    else:
        lines.append("  (no output)")
    return "\n".join(lines)


def _commit(root: str, box: Sandbox, outputs) -> None:
    """Move outputs into the workspace: stage each beside its destination, then rename.
    An output whose content did not change is left alone, mtime included."""
    staged: list[tuple[str, str]] = []
    try:
        for exec_path, workspace_path in outputs:
            source, destination = box.path(exec_path), os.path.join(root, workspace_path)
            if os.path.isfile(destination) and filecmp.cmp(source, destination, shallow=False) \
                    and _same_mode(source, destination):
                continue
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            temporary = os.path.join(os.path.dirname(destination),
                                     f".{os.path.basename(destination)}.ksbuild-{uuid.uuid4().hex[:8]}")
            shutil.copy2(source, temporary)
            staged.append((temporary, destination))
        for temporary, destination in staged:
            os.replace(temporary, destination)
        staged = []
    finally:
        for temporary, _ in staged:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass


def _same_mode(a: str, b: str) -> bool:
    return (os.stat(a).st_mode & 0o777) == (os.stat(b).st_mode & 0o777)
