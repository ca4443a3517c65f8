"""What each target looked like when it last succeeded here, to decide and explain rebuilds.

`plans.json` holds one digest per target and is read on every run; `plan-parts.json` holds the
digest's parts and the input list, and is read only to explain a target whose plan changed.
"""
from __future__ import annotations

import json
import os

from ksbuild.files import read_json, write_atomically

STATE_DIR = ".ksbuild"
PLANS_FILE = os.path.join(STATE_DIR, "plans.json")
PARTS_FILE = os.path.join(STATE_DIR, "plan-parts.json")
DIR_FILES_FILE = os.path.join(STATE_DIR, "dir-outputs.json")
OUTPUTS_FILE = os.path.join(STATE_DIR, "outputs.json")
PENDING_OUTPUTS_DIR = os.path.join(STATE_DIR, "work", "outputs")


def write_json(path: str, data, lines: bool = False) -> None:
    """Atomically; with `lines`, one top-level entry per line (readable, and json's fast encoder)."""
    if lines:
        text = "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()) + "\n}\n"
    else:
        text = json.dumps(data)
    write_atomically(path, text.encode())


def previous_plans(root: str) -> dict[str, str]:
    return read_json(os.path.join(root, PLANS_FILE))


def previous_parts(root: str) -> dict[str, dict]:
    return read_json(os.path.join(root, PARTS_FILE))


def record_success(root: str, succeeded: dict[str, dict]) -> None:
    """`succeeded`: task -> {"plan": digest, "parts": {...}, "inputs": [...]}."""
    if not succeeded:
        return
    plans, parts = previous_plans(root), previous_parts(root)
    for task, plan in succeeded.items():
        plans[task] = plan["plan"]
        parts[task] = {"parts": plan["parts"], "inputs": plan["inputs"]}
    write_json(os.path.join(root, PLANS_FILE), plans, lines=True)
    write_json(os.path.join(root, PARTS_FILE), parts, lines=True)


def previous_dir_files(root: str) -> dict[str, dict[str, list[str]]]:
    """task -> owned directory -> the files it held after the task last succeeded."""
    return read_json(os.path.join(root, DIR_FILES_FILE))


def record_dir_files(root: str, produced: dict[str, dict[str, list[str]]]) -> None:
    if produced:
        known = previous_dir_files(root)
        known.update(produced)
        write_json(os.path.join(root, DIR_FILES_FILE), known, lines=True)


def previous_outputs(root: str) -> dict[str, dict[str, list]]:
    """task -> output path -> [size, mtime_ns, sha256] as its last run committed them."""
    return read_json(os.path.join(root, OUTPUTS_FILE))


def write_task_outputs(root: str, task: str, signatures: dict[str, list]) -> None:
    """Written by the executor (in whichever process ran the task); merged at the end of the run."""
    write_atomically(os.path.join(root, PENDING_OUTPUTS_DIR, task + ".json"), json.dumps(signatures).encode())


def record_outputs(root: str, tasks) -> None:
    """Merge the output signatures of the tasks that succeeded in this run into OUTPUTS_FILE."""
    found = {}
    for task in tasks:
        path = os.path.join(root, PENDING_OUTPUTS_DIR, task + ".json")
        signatures = read_json(path)
        if signatures or os.path.exists(path):
            found[task] = signatures
            os.unlink(path)
    if found:
        known = previous_outputs(root)
        known.update(found)
        write_json(os.path.join(root, OUTPUTS_FILE), known, lines=True)


def changed_output(root: str, recorded: dict[str, list] | None) -> str:
    """The first output whose content is no longer what the last run committed ('' when all are):
    a stat signature that matches is trusted, one that does not is settled by the content's digest."""
    import hashlib

    for path, (size, mtime_ns, digest) in (recorded or {}).items():
        try:
            stat = os.stat(os.path.join(root, path))
        except OSError:
            return path
        if stat.st_size != size:
            return path
        if stat.st_mtime_ns != mtime_ns:
            try:
                with open(os.path.join(root, path), "rb") as handle:
                    if hashlib.file_digest(handle, "sha256").hexdigest() != digest:
                        return path
            except OSError:
                return path
    return ""
