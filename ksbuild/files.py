"""Small state files under .ksbuild/: read forgivingly, written atomically."""
from __future__ import annotations

import json
import os


def read_json(path: str) -> dict:
    """The JSON object in `path`, or {} when it is missing or unreadable (state can be rebuilt)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_atomically(path: str, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_if_changed(path: str, data: bytes) -> None:
    """Leave an unchanged file alone, timestamp included, so what depends on it stays up to date."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except OSError:
        pass
    write_atomically(path, data)
