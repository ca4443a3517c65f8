"""The one executor: every action of every rule runs through `run_target`.

An action runs in its own sandbox; only when it succeeded and produced every declared output
are the outputs moved into the workspace, each by an atomic rename. A failure or an interrupt
leaves the previous outputs untouched.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ksbuild.cache.keybook import KeyBook
from ksbuild.exec.builtins import BUILTINS
from ksbuild.exec.commit import commit_dir, commit_files, write_dir_manifest
from ksbuild.exec.sandbox import Sandbox, files_under, sandbox_for
from ksbuild.model import ActionSpec

OUTPUT_LIMIT = 20_000  # characters of a failed command's output shown


class ActionFailed(Exception):
    """An action did not produce its outputs; the message says what ran and what it printed."""


def run_target(root: str, task: str, rule: str, actions: tuple[ActionSpec, ...], cache_config=None):
    """doit action: run every action of one target in order, each restored from the action cache
    when it holds the action's key. Returns what doit stores as the task's values (how it went,
    where hits came from, why a miss missed, the files of owned directories), or doit's TaskFailed."""
    started = time.monotonic()
    notes: list[str] = []
    produced: dict[str, list[str]] = {}
    tool_digests: dict[str, str] = {}
    keys = KeyBook(root, task, cache_config) if cache_config else None
    sources = []
    try:
        for index, action in enumerate(actions):
            digests = _check_tools(action)
            tool_digests.update(digests)
            key = keys.key(index, action, rule, digests) if keys else None
            source = _restore(root, action, produced, keys.cache, key) if key else None
            if source is None:
                if keys:
                    keys.missed(index)
                notes.extend(run_action(root, action, produced, keys.cache if keys else None, key))
            sources.append(source)
    except ActionFailed as failure:
        from doit.exceptions import TaskFailed

        return TaskFailed(f"{task}: {failure}")
    finally:
        if keys:
            keys.close()
    if notes:
        sys.stderr.write("\n".join(notes) + "\n")
    hit = bool(sources) and None not in sources
    values = {"status": "cache-hit" if hit else "executed", "seconds": round(time.monotonic() - started, 3)}
    if hit:
        values["cache"] = "remote" if "remote" in sources else "local"
    elif keys and keys.miss:
        values["miss"] = keys.miss
    if tool_digests:
        values["tool_digests"] = tool_digests
    if produced:
        values["dir_files"] = produced
    return values


def run_action(root: str, action: ActionSpec, produced: dict[str, list[str]] | None = None, cache=None,
               key: str | None = None) -> list[str]:
    """Run one action in a fresh sandbox, commit its outputs and store them in the cache; returns
    warnings to show. `produced` receives, per owned directory, the files it now holds."""
    keep = os.environ.get("KSBUILD_KEEP_SANDBOX") == "1"
    with sandbox_for(root, action, keep=keep) as box:
        output = _execute(box, action)
        found = files_under(box.root)
        missing = [p for p, _ in action.outputs if p not in found]
        missing += [p + "/" for p, _ in action.output_dirs if not os.path.isdir(box.path(p))]
        if missing:
            raise ActionFailed(_describe(action, box, "did not produce declared output(s): " + ", ".join(missing),
                                         output))
        inside_dirs = tuple(p + "/" for p, _ in action.output_dirs + action.input_dirs)
        declared = {p for p, _ in action.inputs} | {p for p, _ in action.outputs}
        undeclared = sorted(p for p in found - declared if not p.startswith(inside_dirs))
        _commit(root, box.root, action, produced)
        if cache is not None and key:
            cache.save(key, action, box.root)
    if undeclared:
        shown = ", ".join(undeclared[:10]) + (f" and {len(undeclared) - 10} more" if len(undeclared) > 10 else "")
        return [f"ksbuild: {action.description}: dropped undeclared file(s): {shown}"]
    return []


def _restore(root: str, action: ActionSpec, produced, cache, key: str) -> str | None:
    """Commit the cached outputs of `key`, if the cache has them; returns where they came from."""
    staging = tempfile.mkdtemp(prefix="ksbuild-restore-")
    try:
        source = cache.restore(key, action, staging)
        if source is not None:
            _commit(root, staging, action, produced)
        return source
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(root: str, exec_root: str, action: ActionSpec, produced) -> None:
    """Move an action's outputs from an execution root (or a restore) into the workspace."""
    commit_files(root, exec_root, action.outputs)
    for exec_dir, workspace_dir in action.output_dirs:
        os.makedirs(os.path.join(exec_root, exec_dir), exist_ok=True)  # a restored empty directory
        files = commit_dir(root, os.path.join(exec_root, exec_dir), workspace_dir)
        write_dir_manifest(root, workspace_dir, files)
        if produced is not None:
            produced[workspace_dir] = files


def _check_tools(action: ActionSpec) -> dict[str, str]:
    """The SHA-256 of each tool binary the action uses; every one must be installed."""
    if not action.tools:
        return {}
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    try:
        go = go_env()
    except GoMissing as err:
        raise ActionFailed(f"{action.mnemonic} needs Go: {err}. Install Go and put `go` on PATH.") from None
    digests = {}
    for tool in action.tools:
        digest = store.installed_digest(tool, go)
        if not digest or not os.path.isfile(store.binary_path(tool, go)):
            raise ActionFailed(f"{action.mnemonic}: tool {tool.name!r} ({tool}) is not installed; "
                               f"run `doit tool:{tool.name}`.")
        digests[tool.name] = digest
    return digests


def _execute(box: Sandbox, action: ActionSpec) -> str:
    cwd = box.path(action.cwd)
    if action.builtin:
        try:
            BUILTINS[action.builtin](cwd, action.argv)
        except (OSError, ValueError) as err:
            raise ActionFailed(_describe(action, box, f"failed: {err}", "")) from None
        return ""
    stdout = open(box.path(action.stdout), "wb") if action.stdout else subprocess.PIPE
    try:
        process = subprocess.Popen(action.argv, cwd=cwd, env=box.environment(action), stdin=subprocess.DEVNULL,
                                   stdout=stdout, stderr=subprocess.PIPE if action.stdout else subprocess.STDOUT,
                                   start_new_session=True)
    except OSError as err:
        raise ActionFailed(_describe(action, box, f"could not start: {err.strerror}", "",
                                     hint="Is the program installed, and on the sandbox PATH?")) from None
    finally:
        if action.stdout:
            stdout.close()
    try:
        out, err = process.communicate()
    except BaseException:
        _stop(process)
        raise
    output = (err if action.stdout else out).decode(errors="replace")
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
    if action.builtin and len(command) > 300:
        command = command[:300] + " ..."
    if action.stdout:
        command += f" > {action.stdout}"
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
