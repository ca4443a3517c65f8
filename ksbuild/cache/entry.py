"""Action entries: what an action produced, as paths, SHA-256 digests, sizes and modes.

An entry read from a store is trusted for nothing: every path must be one the action declares
(a declared output file, or a plain relative name inside a declared owned directory), and every
blob is verified against its digest when it is restored.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass

from ksbuild.cache.digests import sha256_file
from ksbuild.model import ActionSpec

ENTRY_FORMAT = 1
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class InvalidEntry(Exception):
    """An entry that cannot be restored: treated as a miss, with a warning."""


@dataclass(frozen=True)
class OutputFile:
    exec_path: str  # where the action wrote it, inside the execution root
    workspace_path: str
    digest: str
    size: int
    mode: int


def describe_outputs(exec_root: str, action: ActionSpec) -> list[OutputFile]:
    """The files a successful run produced: declared outputs, then the owned directories' files."""
    from ksbuild.exec.sandbox import files_under

    files = []
    for exec_path, workspace_path in action.outputs:
        files.append(_describe(exec_root, exec_path, workspace_path))
    for exec_dir, workspace_dir in action.output_dirs:
        for name in sorted(files_under(os.path.join(exec_root, exec_dir))):
            files.append(_describe(exec_root, f"{exec_dir}/{name}", f"{workspace_dir}/{name}"))
    return files


def _describe(exec_root: str, exec_path: str, workspace_path: str) -> OutputFile:
    path = os.path.join(exec_root, exec_path)
    stat = os.stat(path)
    return OutputFile(exec_path, workspace_path, sha256_file(path), stat.st_size, stat.st_mode & 0o777)


def encode(action: ActionSpec, files: list[OutputFile]) -> bytes:
    dirs = {workspace: [] for _, workspace in action.output_dirs}
    outputs = []
    for file in files:
        directory = next((d for d in dirs if file.workspace_path.startswith(d + "/")), None)
        row = {"digest": file.digest, "size": file.size, "mode": file.mode}
        if directory is None:
            outputs.append({"path": file.workspace_path, **row})
        else:
            dirs[directory].append({"name": file.workspace_path[len(directory) + 1:], **row})
    entry = {"format": ENTRY_FORMAT, "outputs": outputs,
             "dirs": [{"path": path, "files": names} for path, names in dirs.items()]}
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def decode(data: bytes, action: ActionSpec) -> list[OutputFile]:
    """The entry's files, mapped to the action's declared outputs; InvalidEntry if anything is off."""
    try:
        entry = json.loads(data)
        if entry.get("format") != ENTRY_FORMAT:
            raise InvalidEntry(f"unknown entry format {entry.get('format')!r}")
        declared = {workspace: exec_path for exec_path, workspace in action.outputs}
        owned = {workspace: exec_path for exec_path, workspace in action.output_dirs}
        files = []
        for row in entry["outputs"]:
            path = row["path"]
            if path not in declared:
                raise InvalidEntry(f"names {path!r}, which is not a declared output")
            files.append(_file(declared[path], path, row))
        if sorted(r["path"] for r in entry["outputs"]) != sorted(declared):
            raise InvalidEntry("does not hold every declared output")
        if sorted(d["path"] for d in entry["dirs"]) != sorted(owned):
            raise InvalidEntry("does not match the declared output directories")
        for directory in entry["dirs"]:
            for row in directory["files"]:
                name = row["name"]
                normal = posixpath.normpath(name)
                if not isinstance(name, str) or posixpath.isabs(name) or normal != name or name.startswith(".."):
                    raise InvalidEntry(f"names {name!r} in {directory['path']}, which is not a plain relative path")
                files.append(_file(f"{owned[directory['path']]}/{name}", f"{directory['path']}/{name}", row))
        return files
    except InvalidEntry:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidEntry(f"is malformed ({err.__class__.__name__})") from None


def _file(exec_path: str, workspace_path: str, row: dict) -> OutputFile:
    digest, size, mode = row["digest"], row["size"], row["mode"]
    if not (isinstance(digest, str) and _DIGEST.match(digest)) or not isinstance(size, int) or \
            not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise InvalidEntry(f"has a bad digest, size or mode for {workspace_path!r}")
    return OutputFile(exec_path, workspace_path, digest, size, mode)
