"""`workspace.lock`: what ksbuild resolved once and the workspace then builds exactly, committed.

    components:  the commit of every component fetched from git (loader.gitsource)
    charts:      the manifest digest of every chart dependency fetched from an OCI registry (charts.deps)

Each section is read and written on its own; writing one keeps the others as they are. The file is
written atomically, and only when a section changed.
"""
from __future__ import annotations

import os

import yaml

from ksbuild.files import write_atomically

LOCK_FILE = "workspace.lock"
HEADER = ("# Written by ksbuild: the exact commit of every component fetched from git, and the digest of every "
          "chart dependency. Commit this file.\n")


def read_section(root: str, section: str) -> dict:
    """The section's mapping ({} when the file or the section is missing or is not a mapping)."""
    data = _read(root)
    found = data.get(section)
    return found if isinstance(found, dict) else {}


def write_section(root: str, section: str, entries: dict) -> None:
    data = _read(root)
    if data.get(section) == entries:
        return
    data = {key: value for key, value in data.items() if isinstance(key, str)}
    if entries:
        data[section] = dict(sorted(entries.items()))
    else:
        data.pop(section, None)
    write_atomically(os.path.join(root, LOCK_FILE), (HEADER + yaml.safe_dump(data, sort_keys=True)).encode())


def _read(root: str) -> dict:
    try:
        with open(os.path.join(root, LOCK_FILE), encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
