"""Action entries: what an action produced, as paths, SHA-256 digests, sizes and modes.

An entry read from a store is trusted for nothing. It must be at most MAX_ENTRY_SIZE bytes of JSON
of exactly the expected shape, name at most MAX_ENTRY_FILES files, each a declared output file or a
plain relative name inside a declared owned directory, no path twice and none inside another (a
file `zz` and a file `zz/b` cannot both be restored), and each file's content, inline or a blob, is
verified against its size and digest as it is restored. With a signing key required, its signature
must verify too (see signing.py). Anything else is InvalidEntry: a miss with a warning, never a
failure.

Small files travel inside the entry ("content", base64), as REAPI's ActionResult may carry them:
one file written or fetched per small action instead of two, one request instead of two to a
remote. The rest are blobs in the store, by SHA-256.

The document (format 2; "content" and "signature" are optional, and readers that do not require a
signature ignore it):

    {"format": 2,
     "outputs": [{"path": WORKSPACE PATH, "digest": SHA256, "size": BYTES, "mode": 0..0o777,
                  "content": BASE64}, ...],
     "dirs": [{"path": OWNED DIR, "files": [{"name": RELATIVE NAME, "digest": ..., "size": ..., "mode": ...}]}],
     "signature": {"scheme": "hmac-sha256-v1", "mac": HEX}}

The signature covers the action key and the SHA-256 of the document without "signature", in its
canonical form (sorted keys, no spaces, ASCII), which is the form written.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass

from ksbuild.cache import signing
from ksbuild.cache.config import MAX_BLOB_SIZE, MAX_ENTRY_FILES, MAX_ENTRY_SIZE
from ksbuild.model import ActionSpec

ENTRY_FORMAT = 2
INLINE_FILE_LIMIT = 16 * 1024  # bytes of a file kept inside its entry
INLINE_TOTAL_LIMIT = 256 * 1024  # bytes of all an entry's inline files: base64 of it fits MAX_ENTRY_SIZE easily
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = {"format", "outputs", "dirs", "signature"}
_OUTPUT_FIELDS = {"path", "digest", "size", "mode"}
_DIR_FIELDS = {"path", "files"}
_NAME_FIELDS = {"name", "digest", "size", "mode"}
_CONTENT = "content"


class InvalidEntry(Exception):
    """An entry that cannot be restored: treated as a miss, with a warning."""


class Uncacheable(Exception):
    """A run's outputs the cache does not take (a link or other non-regular file, too many files,
    a file or an entry too large): the build goes on, the action is not cached."""


@dataclass(frozen=True)
class OutputFile:
    exec_path: str  # where the action wrote it, inside the execution root
    workspace_path: str
    digest: str
    size: int
    mode: int
    content: bytes | None = None  # kept inside the entry (a small file), else a blob


def describe_outputs(exec_root: str, action: ActionSpec) -> list[OutputFile]:
    """The files a successful run produced: declared outputs, then the owned directories' files."""
    from ksbuild.exec.sandbox import files_under

    pairs = list(action.outputs)
    for exec_dir, workspace_dir in action.output_dirs:
        pairs += [(f"{exec_dir}/{name}", f"{workspace_dir}/{name}")
                  for name in sorted(files_under(os.path.join(exec_root, exec_dir)))]
    if len(pairs) > MAX_ENTRY_FILES:
        raise Uncacheable(f"{len(pairs)} output files, more than an entry may name ({MAX_ENTRY_FILES})")
    files, seen, inline_left = [], set(), INLINE_TOTAL_LIMIT
    for exec_path, workspace_path in pairs:
        if exec_path not in seen:  # an owned directory inside another lists its files twice
            seen.add(exec_path)
            file = _describe(exec_root, exec_path, workspace_path, inline_left)
            inline_left -= file.size if file.content is not None else 0
            files.append(file)
    return files


def _describe(exec_root: str, exec_path: str, workspace_path: str, inline_left: int) -> OutputFile:
    """One output file, read once: a small one is kept whole (to go inside the entry), a larger one
    only hashed."""
    try:
        fd = os.open(os.path.join(exec_root, exec_path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # a link (ELOOP), a socket (ENXIO)
        raise Uncacheable(f"{workspace_path} is not a regular file (a symbolic link?)") from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise Uncacheable(f"{workspace_path} is not a regular file (a symbolic link?)")
        if found.st_size > MAX_BLOB_SIZE:
            raise Uncacheable(f"{workspace_path} is larger than a cached file may be ({MAX_BLOB_SIZE} bytes)")
        if found.st_size > min(INLINE_FILE_LIMIT, inline_left):
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            return OutputFile(exec_path, workspace_path, digest, found.st_size, found.st_mode & 0o777)
        content = handle.read(found.st_size + 1)
    if len(content) != found.st_size:
        raise Uncacheable(f"{workspace_path} changed while it was read")
    return OutputFile(exec_path, workspace_path, hashlib.sha256(content).hexdigest(), found.st_size,
                      found.st_mode & 0o777, content)


def encode(action: ActionSpec, files: list[OutputFile], key: str = "", signing_key: bytes | None = None) -> bytes:
    """The entry document; signed for the action key `key` when a signing key is given."""
    dirs = {workspace: [] for _, workspace in action.output_dirs}
    outputs = []
    for file in files:
        directory = next((d for d in dirs if file.workspace_path.startswith(d + "/")), None)
        row = {"digest": file.digest, "size": file.size, "mode": file.mode}
        if file.content is not None:
            row[_CONTENT] = base64.b64encode(file.content).decode("ascii")
        if directory is None:
            outputs.append({"path": file.workspace_path, **row})
        else:
            dirs[directory].append({"name": file.workspace_path[len(directory) + 1:], **row})
    entry = {"format": ENTRY_FORMAT, "outputs": outputs,
             "dirs": [{"path": path, "files": names} for path, names in dirs.items()]}
    data = signing.canonical(entry)
    if signing_key is not None:
        data = signing.canonical(dict(entry, signature=signing.signature(signing_key, key, data)))
    if len(data) > MAX_ENTRY_SIZE:
        if any(file.content is not None for file in files):  # too many names to carry contents too
            return encode(action, [_as_blob(file) for file in files], key, signing_key)
        raise Uncacheable(f"its entry would be {len(data)} bytes, more than an entry may ({MAX_ENTRY_SIZE})")
    return data


def blobs(files: list[OutputFile]) -> list[OutputFile]:
    """The files whose content is stored apart from the entry."""
    return [file for file in files if file.content is None]


def _as_blob(file: OutputFile) -> OutputFile:
    return OutputFile(file.exec_path, file.workspace_path, file.digest, file.size, file.mode)


def decode(data: bytes, action: ActionSpec, key: str = "", signing_key: bytes | None = None) -> list[OutputFile]:
    """The entry's files, mapped to the action's declared outputs; InvalidEntry if anything is off.
    With `signing_key`, the entry must carry that key's signature for the action key `key`."""
    if len(data) > MAX_ENTRY_SIZE:
        raise InvalidEntry(f"is larger than an entry may be ({MAX_ENTRY_SIZE} bytes)")
    try:
        entry = json.loads(data, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise InvalidEntry("is malformed (nested too deeply)") from None
    except (ValueError, TypeError) as err:
        raise InvalidEntry(f"is malformed ({err.__class__.__name__})") from None
    if not isinstance(entry, dict):
        raise InvalidEntry("is malformed (not a JSON object)")
    if type(entry.get("format")) is not int or entry["format"] != ENTRY_FORMAT:
        raise InvalidEntry(f"unknown entry format {_short(entry.get('format'))}")
    if set(entry) - _FIELDS or not {"outputs", "dirs"} <= set(entry):
        raise InvalidEntry("is malformed (unexpected or missing fields)")
    if signing_key is not None:
        unsigned = {name: value for name, value in entry.items() if name != "signature"}
        problem = signing.verify(signing_key, key, signing.canonical(unsigned), entry.get("signature"))
        if problem:
            raise InvalidEntry(problem)
    outputs, dirs = _rows(entry["outputs"], _OUTPUT_FIELDS), _rows(entry["dirs"], _DIR_FIELDS)
    for directory in dirs:
        if not isinstance(directory["path"], str):
            raise InvalidEntry("is malformed (an output directory's path is not a string)")
        _rows(directory["files"], _NAME_FIELDS)
    count = len(outputs) + sum(len(directory["files"]) for directory in dirs)
    if count > MAX_ENTRY_FILES:
        raise InvalidEntry(f"names {count} files, more than an entry may ({MAX_ENTRY_FILES})")

    declared = {workspace: exec_path for exec_path, workspace in action.outputs}
    owned = {workspace: exec_path for exec_path, workspace in action.output_dirs}
    files = []
    for row in outputs:
        path = row["path"]
        if not isinstance(path, str) or path not in declared:
            raise InvalidEntry(f"names {_short(path)}, which is not a declared output")
        files.append(_file(declared[path], path, row))
    if sorted(r["path"] for r in outputs) != sorted(declared):
        raise InvalidEntry("does not hold every declared output" if len(outputs) <= len(declared) else
                           "names a declared output twice")
    if sorted(d["path"] for d in dirs) != sorted(owned):
        raise InvalidEntry("does not match the declared output directories")
    for directory in dirs:
        for row in directory["files"]:
            name = row["name"]
            if not _plain(name):
                raise InvalidEntry(f"names {_short(name)} in {directory['path']}, which is not a plain relative path")
            files.append(_file(f"{owned[directory['path']]}/{name}", f"{directory['path']}/{name}", row))
    _check_layout(files)
    return files


def _unique_keys(pairs: list) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice")
    return found


def _rows(value, fields: set[str]) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(row, dict) and set(row) - {_CONTENT} == fields
                                              and (_CONTENT not in row or "digest" in fields) for row in value):
        raise InvalidEntry(f"is malformed (expected a list of {{{', '.join(sorted(fields))}}})")
    return value


def _plain(name) -> bool:
    """A relative path of ordinary names, that the file system can hold: no '', '.', '..', NUL."""
    if not isinstance(name, str) or not name or "\0" in name:
        return False
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        return False
    parts = encoded.split(b"/")
    return len(encoded) <= 1024 and all(part not in (b"", b".", b"..") and len(part) <= 255 for part in parts)


def _check_layout(files: list[OutputFile]) -> None:
    """No file twice, and no file where another needs a directory (`zz` and `zz/b`)."""
    paths = {}
    for file in files:
        if file.exec_path in paths:
            raise InvalidEntry(f"names {_short(file.workspace_path)} twice")
        paths[file.exec_path] = file.workspace_path
    for file in files:
        parts = file.exec_path.split("/")
        for end in range(1, len(parts)):
            above = "/".join(parts[:end])
            if above in paths:
                raise InvalidEntry(f"names both {_short(paths[above])} and {_short(file.workspace_path)}: a file "
                                   "cannot also be a directory")


def _file(exec_path: str, workspace_path: str, row: dict) -> OutputFile:
    digest, size, mode = row["digest"], row["size"], row["mode"]
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)) or type(size) is not int or type(mode) is not int \
            or not 0 <= size <= MAX_BLOB_SIZE or not 0 <= mode <= 0o777:
        raise InvalidEntry(f"has a bad digest, size or mode for {_short(workspace_path)}")
    return OutputFile(exec_path, workspace_path, digest, size, mode, _content(row, workspace_path))


def _content(row: dict, workspace_path: str) -> bytes | None:
    """A row's inline content, checked against its size and digest like a blob; None when it has none."""
    if _CONTENT not in row:
        return None
    encoded = row[_CONTENT]
    try:
        if not isinstance(encoded, str) or len(encoded) > 4 * (row["size"] + 2) // 3 + 4:
            raise ValueError
        content = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidEntry(f"has malformed content for {_short(workspace_path)}") from None
    if len(content) != row["size"] or hashlib.sha256(content).hexdigest() != row["digest"]:
        raise InvalidEntry(f"has content for {_short(workspace_path)} that does not match its size and digest")
    return content


def _short(value) -> str:
    """An entry's value, for a message: repr, at most 80 characters."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
