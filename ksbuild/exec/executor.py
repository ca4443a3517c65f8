"""The one executor: every action of every rule runs through `run_target`.

An action runs in its own sandbox. A target's outputs reach the workspace only when every one of
its actions succeeded and produced every declared output, each by an atomic rename (exec.pending);
a failure or an interrupt leaves the previous outputs untouched.
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import stat
import sys
import tempfile
import time
from dataclasses import replace

from ksbuild.cache.keybook import KeyBook
from ksbuild.exec import isolation
from ksbuild.exec.builtins import BUILTINS
from ksbuild.exec.pending import Pending
from ksbuild.exec.sandbox import Sandbox, files_under, make_sandbox, remove_tree, run_directory
from ksbuild.model import SCRATCH, ActionSpec
from ksbuild.profile import phase, target as profiled_target
from ksbuild.profile.heartbeat import Heartbeat

OUTPUT_LIMIT = 20_000  # characters of a failed command's output shown


class ActionFailed(Exception):
    """An action did not produce its outputs; the message says what ran and what it printed."""


def run_target(root: str, task: str, rule: str, actions: tuple[ActionSpec, ...], cache_config=None):
    """doit action: run every action of one target in order, each restored from the action cache
    when it holds the action's key, then commit all their outputs together. Returns what doit
    stores as the task's values (how it went, where hits came from, why a miss missed, the files of
    owned directories, the outputs' signatures), or doit's TaskFailed."""
    with profiled_target(root, task):  # the build profile's span of the target (KSBUILD_PROFILE)
        return _run_target(root, task, rule, actions, cache_config)


def _run_target(root: str, task: str, rule: str, actions: tuple[ActionSpec, ...], cache_config):
    started = time.monotonic()
    notes: list[str] = []
    tool_digests: dict[str, str] = {}
    isolation.warn_if_not_hermetic()
    if cache_config is not None and cache_config.mode == "rw" and not isolation.hermetic():
        cache_config = replace(cache_config, mode="ro")  # what a copy sandbox made stays off shared caches
    keys = KeyBook(root, task, cache_config) if cache_config else None
    pending = Pending(root)
    sources = []
    try:
        for index, action in enumerate(actions):
            digests = _check_tools(action)
            tool_digests.update(digests)
            with phase(task, index, "cache lookup", action.mnemonic):
                key = keys.key(index, action, rule, digests, pending) if keys and not action.network else None
                source = _restore(action, pending, keys.cache, key) if key and keys.cache.may_hold(key) else None
            if source is None:
                if key:
                    keys.missed(index)
                notes.extend(run_action(action, pending, keys.cache if keys else None, key, task=task, index=index))
            sources.append(source)
        try:
            with phase(task, None, "commit"):
                produced = pending.commit()
        except OSError as err:  # a full disk, a link out of the workspace: files already renamed stay
            from doit.exceptions import TaskFailed

            if any(sources) and cache_config is not None:  # restored outputs that do not fit the tree:
                sys.stderr.write(f"ksbuild: warning: {task}: cached outputs could not be written "  # never
                                 f"({err.strerror or err}); running it instead\n")  # trust the entry again
                return run_target(root, task, rule, actions, None)
            where = f": {err.filename}" if err.filename else ""
            return TaskFailed(f"{task}: cannot write its outputs: {err.strerror or err}{where}\n"
                              "  Files already moved into place are complete; the others are as they were.")
    except ActionFailed as failure:
        from doit.exceptions import TaskFailed

        return TaskFailed(f"{task}: {failure}\n  Nothing was written: the target's outputs are as they were.")
    finally:
        pending.close()
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
    from ksbuild.state import write_task_outputs

    write_task_outputs(root, task, output_signatures(root, actions, produced, pending.digests))  # not in doit's values: they
    return values  # are read back on every run, and the no-op reads one merged file instead


def run_action(action: ActionSpec, pending: Pending, cache=None, key: str | None = None, task: str = "",
               index: int = 0) -> list[str]:
    """Run one action (action `index` of target `task`) in a fresh sandbox; its outputs wait in
    `pending` for the target's commit, and go to the cache. Returns warnings to show."""
    keep = os.environ.get("KSBUILD_KEEP_SANDBOX") == "1"
    with phase(task, index, "sandbox", action.mnemonic):
        box = make_sandbox(action, pending)
    try:
        with phase(task, index, "run", action.mnemonic), Heartbeat(f"{task or action.description}: {action.mnemonic}"):
            output = _execute(box, action)
            found = files_under(box.root)
            missing = [p for p, _ in action.outputs if p not in found]
            missing += [p + "/" for p, _ in action.output_dirs if not os.path.isdir(box.path(p))]
            if missing:
                raise ActionFailed(_describe(action, box, "did not produce declared output(s): " + ", ".join(missing),
                                             output))
            strange = _not_regular(box, action, found)
            if strange:  # a link would be followed outside the sandbox when the outputs are committed
                raise ActionFailed(_describe(action, box, "produced output(s) that are not regular files: "
                                             + ", ".join(strange), output))
            _format(box, action, found)
        inside_dirs = tuple(p + "/" for p, _ in action.output_dirs + action.input_dirs)
        declared = {p for p, _ in action.inputs} | {p for p, _ in action.outputs}
        undeclared = sorted(p for p in found - declared
                            if not p.startswith(inside_dirs) and f"{SCRATCH}/" not in f"/{p}")
        saved = []
        if cache is not None and key:
            with phase(task, index, "upload", action.mnemonic):
                saved = cache.save(key, action, box.root)
    except BaseException:
        if not keep:  # a kept one is no run's: the next run's clean-up of dead runs' sandboxes leaves it
            remove_tree(box.base)
        raise
    pending.add(box.root, action, box.base, {file.workspace_path: file.digest for file in saved})
    if undeclared:
        shown = ", ".join(undeclared[:10]) + (f" and {len(undeclared) - 10} more" if len(undeclared) > 10 else "")
        return [f"ksbuild: {action.description}: dropped undeclared file(s): {shown}"]
    return []


def _not_regular(box: Sandbox, action: ActionSpec, found: set[str]) -> list[str]:
    """Outputs that are links, FIFOs or devices, described."""
    owned = tuple(p + "/" for p, _ in action.output_dirs)
    strange = []
    for path in sorted({p for p, _ in action.outputs} | {p for p in found if p.startswith(owned)}):
        mode = os.lstat(box.path(path)).st_mode
        if not stat.S_ISREG(mode):
            strange.append(f"{path} ({'a symbolic link' if stat.S_ISLNK(mode) else 'not a file'})")
    return strange


def _restore(action: ActionSpec, pending: Pending, cache, key: str) -> str | None:
    """Lay out the cached outputs of `key` for the commit, if the cache has them; returns where they
    came from."""
    staging = tempfile.mkdtemp(prefix="restore-", dir=run_directory())
    try:
        source = cache.restore(key, action, staging)
    except BaseException:
        remove_tree(staging)
        raise
    if source is None:
        remove_tree(staging)
        return None
    pending.add(staging, action, staging)
    return source


def output_signatures(root: str, actions, produced: dict[str, list[str]],
                      known: dict[str, str] | None = None) -> dict[str, list]:
    """Each output's size, mtime and SHA-256 as committed: an output edited since (by hand, or by a
    checkout) makes the target out of date (see cli.outputs). `known`: the SHA-256 of what was
    committed, by workspace path, where the cache already took it (not read again)."""
    paths = [workspace for action in actions for _, workspace in action.outputs]
    paths += [f"{directory}/{name}" for directory, names in produced.items() for name in names]
    signatures = {}
    known = known or {}
    for path in dict.fromkeys(paths):
        full = os.path.join(root, path)
        try:
            if path in known:
                stat = os.stat(full)
                signatures[path] = [stat.st_size, stat.st_mtime_ns, known[path]]
                continue
            with open(full, "rb") as handle:
                stat = os.fstat(handle.fileno())
                signatures[path] = [stat.st_size, stat.st_mtime_ns, hashlib.file_digest(handle, "sha256").hexdigest()]
        except OSError:
            continue
    return signatures


def _format(box: Sandbox, action: ActionSpec, found: set[str]) -> None:
    """Each formatting step over the outputs it matches, in the sandbox, after the command."""
    if not action.format:
        return
    outputs = [(exec_path, workspace) for exec_path, workspace in action.outputs]
    for exec_dir, workspace_dir in action.output_dirs:
        outputs += [(p, workspace_dir + p[len(exec_dir):]) for p in sorted(found) if p.startswith(exec_dir + "/")]
    cwd = box.path(action.cwd)
    for step in action.format:
        pattern = re.compile(step.pattern) if step.pattern else None
        files = [os.path.relpath(box.path(exec_path), cwd) for exec_path, workspace in outputs
                 if pattern is None or pattern.fullmatch(workspace)]
        for start in range(0, len(files), FORMAT_BATCH):
            argv = (step.tool.binary, *step.args, *files[start:start + FORMAT_BATCH])
            _run(box, action, argv, what=f"format step `{step.tool.name}`")


FORMAT_BATCH = 200  # files per formatting command


def _check_tools(action: ActionSpec) -> dict[str, str]:
    """The SHA-256 of each tool binary the action uses; every one must be installed."""
    tools = action.all_tools
    if not tools:
        return {}
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    digests = {}
    for tool in tools:
        try:
            go = go_env(tool.go or action.go_version)
        except GoMissing as err:
            raise ActionFailed(f"{action.mnemonic} needs Go: {err}") from None
        digest = store.installed_digest(tool, go)
        if not digest or not os.path.isfile(store.binary_path(tool, go)):
            raise ActionFailed(f"{action.mnemonic}: tool {tool.name!r} ({tool}) is not installed; "
                               f"run `doit {tool.task}`.")
        digests[tool.task] = digest
    return digests


def _execute(box: Sandbox, action: ActionSpec) -> str:
    for name, args in action.prepare:
        _builtin(box, action, name, args)
    if action.builtin:
        _builtin(box, action, action.builtin, action.argv)
        return ""
    return _run(box, action, action.argv, stdout_path=action.stdout)


def _builtin(box: Sandbox, action: ActionSpec, name: str, args: tuple[str, ...]) -> None:
    try:
        BUILTINS[name](box.path(action.cwd), args)
    except (OSError, ValueError) as err:
        raise ActionFailed(_describe(action, box, f"failed: {name}: {err}", "")) from None


def _run(box: Sandbox, action: ActionSpec, argv, stdout_path: str = "", what: str = "") -> str:
    """Run a process in the sandbox; its output, or ActionFailed with the command and its output."""
    try:
        code, output = isolation.run(argv, box, action, box.environment(action), stdout_path)
    except isolation.CannotStart as err:
        raise ActionFailed(_describe(action, box, f"could not start {what or argv[0]}", str(err),
                                     hint="Is the program installed, and on the sandbox PATH?", argv=argv)) from None
    except isolation.SandboxFailed as err:
        raise ActionFailed(_describe(action, box, "could not be run", str(err), argv=argv)) from None
    if code != 0:
        failed = f"{what} failed" if what else "failed"
        raise ActionFailed(_describe(action, box, f"{failed} with exit code {code}", output,
                                     hint=_hint(action, output), argv=argv))
    return output


def _hint(action: ActionSpec, output: str) -> str:
    """What a failure's output says, in a line: which Go package could not be loaded, for instance."""
    if action.toolchain != "go":
        return ""
    from ksbuild.toolchain.gofailure import explain_go_failure

    return explain_go_failure(output, action.cwd)  # a Go action runs at its module's path


def _describe(action: ActionSpec, box: Sandbox, what: str, output: str, hint: str = "", argv=None) -> str:
    argv = action.argv if argv is None else argv
    command = f"[builtin {action.builtin}] " + shlex.join(argv) if action.builtin and argv is action.argv \
        else shlex.join(argv)
    if len(command) > 300:
        command = command[:300] + " ..."
    if action.stdout and argv is action.argv:
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
