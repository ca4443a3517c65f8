"""Sandboxes a killed run left behind (`ksbuild-*` in the temporary directory), removed when the next
run starts. Each sandbox holds its owner's process id in `.owner` (exec.sandbox); only a sandbox whose
owner is gone, and that is older than a few seconds, is removed: never one a running build (this
machine's other workspaces included) is using, nor a directory ksbuild cannot tell is its own."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

PREFIX = "ksbuild-"
OWNER_FILE = ".owner"
MIN_AGE_SECONDS = 10.0


def remove_stale_sandboxes(directory: str | None = None, min_age: float = MIN_AGE_SECONDS) -> list[str]:
    """Remove the dead runs' sandboxes; returns their paths. `KSBUILD_KEEP_SANDBOX=1` keeps them all
    (a kept sandbox outlives its run on purpose)."""
    if os.environ.get("KSBUILD_KEEP_SANDBOX") == "1":
        return []
    if directory is None:
        from ksbuild.exec.sandbox import sandbox_parent

        return [path for parent in dict.fromkeys([sandbox_parent(), tempfile.gettempdir()])
                for path in remove_stale_sandboxes(parent, min_age)]
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
            if not entry.is_dir(follow_symlinks=False) or stat.st_uid != os.getuid() \
                    or now - stat.st_mtime < min_age:
                continue
            owner = _owner(entry.path)
        except OSError:
            continue
        if owner is None or _alive(owner):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _owner(path: str) -> int | None:
    """The process id in the sandbox's marker; None without one (not a sandbox, or one being made)."""
    try:
        with open(os.path.join(path, OWNER_FILE), encoding="ascii") as handle:
            text = handle.read(32).strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process, alive
        return True
    return True
