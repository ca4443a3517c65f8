"""What each target looked like when it last succeeded here, to decide and explain rebuilds.

`plans.json` holds one digest per target and is read on every run; `plan-parts.json` holds the
digest's parts and the input list, and is read only to explain a target whose plan changed.
"""
from __future__ import annotations

import json
import os

from ksbuild.files import read_json, set_aside, write_atomically

STATE_DIR = ".ksbuild"
PLANS_FILE = os.path.join(STATE_DIR, "plans.json")
PARTS_FILE = os.path.join(STATE_DIR, "plan-parts.json")
DIR_FILES_FILE = os.path.join(STATE_DIR, "dir-outputs.json")
OUTPUTS_FILE = os.path.join(STATE_DIR, "outputs.json")
PENDING_OUTPUTS_DIR = os.path.join(STATE_DIR, "work", "outputs")


DOIT_DB = os.path.join(STATE_DIR, "doit-state.sqlite")  # doit's own: what DOIT_CONFIG's dep_file names
_SQLITE_HEADER = b"SQLite format 3\0"


def check_doit_db(root: str) -> None:
    """doit opens its state database before ksbuild's code runs, and stops with its own error on one
    that is corrupt: one that is not an SQLite database is set aside first (files.set_aside), and
    doit starts a new one (every target is then checked by its content again)."""
    import sqlite3

    path = os.path.join(root, DOIT_DB)
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except OSError:
        return
    why = "not an SQLite database" if head and head != _SQLITE_HEADER else ""
    if not why and head:
        try:
            from pathlib import Path

            db = sqlite3.connect(Path(os.path.abspath(path)).as_uri() + "?mode=ro", uri=True, timeout=0.1)
            try:
                db.execute("SELECT task_id, task_data FROM doit LIMIT 1").fetchall()
            finally:
                db.close()
        except sqlite3.DatabaseError as err:  # locked, read-only, no table yet: doit copes; these it cannot
            if err.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                why = str(err)
    if why:
        set_aside(path, why, companions=("-journal", "-wal", "-shm"))


def write_json(path: str, data, lines: bool = False) -> None:
    """Atomically; with `lines`, one top-level entry per line (readable, and json's fast encoder)."""
    if lines:
        text = _lines_document(_entry_line(key, value) for key, value in data.items())
    else:
        text = json.dumps(data)
    write_atomically(path, text.encode())


def update_json_lines(path: str, updates: dict, entry_ok) -> None:
    """Set `updates`' entries in a file write_json(lines=True) wrote, leaving its other lines as
    they are, neither decoded nor encoded again (at 5,000 targets that was most of the end of a
    run that built one). A file of another shape is read (checked) and written whole."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = "{\n\n}\n"
    except (OSError, UnicodeDecodeError):
        text = ""
    if len(updates) <= FEW and _is_lines_document(text):
        write_atomically(path, _spliced(text, updates).encode())  # a few lines found and replaced in the text
        return
    lines = _entry_lines(text)
    if lines is None:
        known = _read(path, entry_ok)
        known.update(updates)
        write_json(path, known, lines=True)
        return
    pending = dict(updates)
    kept = [_entry_line(key, pending.pop(key)) if key in pending else line for key, line in lines]
    kept += [_entry_line(key, value) for key, value in pending.items()]
    write_atomically(path, _lines_document(kept).encode())


def _spliced(text: str, updates: dict) -> str:
    """write_json's lines format `text` with `updates`' lines replaced, or added at its end."""
    for key, value in updates.items():
        line, span = _entry_line(key, value), _line_span(text, key)
        if span is not None:
            start, end = span
            text = f"{text[:start]}{line}{',' if text[end - 1] == ',' else ''}{text[end:]}"
        elif text == "{\n\n}\n":
            text = f"{{\n{line}\n}}\n"
        else:
            text = f"{text[:-3]},\n{line}\n}}\n"
    return text


def _line_span(text: str, key: str) -> tuple[int, int] | None:
    """Where `key`'s line is in write_json's lines format `text`: (its start, its end before the
    newline). json.dumps never writes a raw newline, so the key's JSON after one starts a line."""
    start = text.find(f"\n{json.dumps(key)}: ")
    return None if start < 0 else (start + 1, text.index("\n", start + 1))


def _is_lines_document(text: str) -> bool:
    return text.startswith("{\n") and text.endswith("\n}\n")


def _entry_line(key: str, value) -> str:
    return f"{json.dumps(key)}: {json.dumps(value)}"


def _lines_document(lines) -> str:
    """write_json's lines format: one top-level entry per line (_entry_lines reads it back)."""
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _entry_lines(text: str) -> list[tuple[str, str]] | None:
    """(key, line) of each entry of write_json's lines format; None for anything else."""
    if not _is_lines_document(text):
        return None
    body = text[2:-3]
    if not body:
        return []
    decoder, lines = json.JSONDecoder(), []
    for line in body.split(",\n"):  # json.dumps never writes a raw newline
        try:
            key, end = decoder.raw_decode(line)
        except ValueError:
            return None
        if not isinstance(key, str) or not line.startswith(": ", end):
            return None
        lines.append((key, line))
    return lines


_READ: dict[str, tuple[tuple, dict]] = {}  # path -> (stat signature, entries): a run reads each file once


def _read(path: str, entry_ok) -> dict:
    """A state file whose every entry passes `entry_ok(value)`; one that does not is corrupt: moved
    aside with a warning (files.set_aside), and read as empty. Read again only when it changed (the
    tasks and the run's end both ask; what they change they write back, changing it)."""
    try:
        found = os.stat(path)
        signature = (found.st_mtime_ns, found.st_size, found.st_ino)
    except OSError:
        signature = None
    cached = _READ.get(path)
    if signature is not None and cached is not None and cached[0] == signature:
        return cached[1]
    data = read_json(path)
    if data and not all(isinstance(key, str) and entry_ok(value) for key, value in data.items()):
        set_aside(path, "entries of the wrong shape")
        return {}
    if signature is not None:
        _READ[path] = (signature, data)
    return data


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _signature(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               for v in value[:2]) and isinstance(value[2], str))


def _plan_ok(plan) -> bool:
    return isinstance(plan, str)


def _parts_ok(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("parts"), dict) and _strings(entry.get("inputs"))


def _dirs_ok(dirs) -> bool:
    return isinstance(dirs, dict) and all(isinstance(d, str) and _strings(files) for d, files in dirs.items())


def _outputs_ok(outputs) -> bool:
    return isinstance(outputs, dict) and all(isinstance(path, str) and _signature(sig) for path, sig in outputs.items())


def previous_plans(root: str) -> dict[str, str]:
    return _read(os.path.join(root, PLANS_FILE), _plan_ok)


def previous_parts(root: str, tasks=None) -> dict[str, dict]:
    """task -> the parts of its plan at its last success (only `tasks`', when given)."""
    return _read_some(os.path.join(root, PARTS_FILE), tasks, _parts_ok)


def record_success(root: str, succeeded: dict[str, dict]) -> None:
    """`succeeded`: task -> {"plan": digest, "parts": {...}, "inputs": [...]}."""
    if not succeeded:
        return
    update_json_lines(os.path.join(root, PLANS_FILE), {task: plan["plan"] for task, plan in succeeded.items()},
                      _plan_ok)
    update_json_lines(os.path.join(root, PARTS_FILE), {
        task: {"parts": plan["parts"], "inputs": plan["inputs"]} for task, plan in succeeded.items()}, _parts_ok)


def previous_dir_files(root: str) -> dict[str, dict[str, list[str]]]:
    """task -> owned directory -> the files it held after the task last succeeded."""
    return _read(os.path.join(root, DIR_FILES_FILE), _dirs_ok)


def record_dir_files(root: str, produced: dict[str, dict[str, list[str]]]) -> None:
    if produced:
        update_json_lines(os.path.join(root, DIR_FILES_FILE), produced, _dirs_ok)


def previous_outputs(root: str, tasks=None) -> dict[str, dict[str, list]]:
    """task -> output path -> [size, mtime_ns, sha256] as its last run committed them (only
    `tasks`', when given)."""
    return _read_some(os.path.join(root, OUTPUTS_FILE), tasks, _outputs_ok)


FEW = 64  # entries read one by one from a state file; more, and the file is read whole


def _read_some(path: str, keys, entry_ok) -> dict:
    """The entries of `keys` (all when None) of a state file. A few are found in the text without
    decoding the other lines (a run that re-plans one target of 5,000 asks for one); anything not in
    write_json's lines format, or that does not pass `entry_ok`, is left to _read (which sets a bad
    file aside)."""
    if keys is None or len(keys) > FEW or path in _READ:
        return _from_whole(path, keys, entry_ok)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError):
        text = ""
    if not _is_lines_document(text):
        return _from_whole(path, keys, entry_ok)
    found = {}
    for key in keys:
        span = _line_span(text, key)
        if span is None:
            continue
        line = text[span[0] + len(json.dumps(key)) + 2:span[1]]  # after `"key": `
        try:
            value = json.loads(line[:-1] if line.endswith(",") else line)
        except ValueError:
            value = None
        if not entry_ok(value):
            return _from_whole(path, keys, entry_ok)  # which sets the bad file aside
        found[key] = value
    return found


def _from_whole(path: str, keys, entry_ok) -> dict:
    whole = _read(path, entry_ok)
    return whole if keys is None else {key: whole[key] for key in keys if key in whole}


_collected: dict[tuple[str, str], dict[str, list]] = {}
_collector = 0  # the process whose reporter merges the signatures (doit's parallel workers are others)


def collect_in_this_process() -> None:
    """This process's reporter merges what this process's tasks write: kept in memory, not a file
    per task (a file created on this machine's disk costs as much as a short action)."""
    global _collector
    _collector = os.getpid()


def write_task_outputs(root: str, task: str, signatures: dict[str, list]) -> None:
    """Written by the executor (in whichever process ran the task); merged at the end of the run."""
    if os.getpid() == _collector:
        _collected[root, task] = signatures
        return
    write_atomically(os.path.join(root, PENDING_OUTPUTS_DIR, task + ".json"), json.dumps(signatures).encode())


def record_outputs(root: str, tasks) -> None:
    """Merge the output signatures of the tasks that succeeded in this run into OUTPUTS_FILE."""
    found = {}
    for task in tasks:
        if (root, task) in _collected:
            found[task] = _collected.pop((root, task))
            continue
        path = os.path.join(root, PENDING_OUTPUTS_DIR, task + ".json")
        signatures = read_json(path)
        if signatures or os.path.exists(path):
            found[task] = signatures
            os.unlink(path)
    if found:
        update_json_lines(os.path.join(root, OUTPUTS_FILE), found, _outputs_ok)


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
