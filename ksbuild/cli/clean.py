"""`doit clean`'s action for a target: remove the outputs git does not track, never a committed
derived file (that is a source of the repository as much as a build product) unless asked with
`clean --all` (the front end sets KSBUILD_CLEAN_COMMITTED), which says how many it removes."""
from __future__ import annotations

import os
import subprocess
import sys


def clean_outputs(root: str, task: str, paths: list[str]) -> None:
    existing = [p for p in paths if os.path.lexists(os.path.join(root, p))]
    if not existing:
        return
    tracked = _tracked(root, existing)
    if tracked and os.environ.get("KSBUILD_CLEAN_COMMITTED") == "1":
        sys.stdout.write(f"ksbuild: {task}: removing {len(tracked)} committed derived file(s) (--all); "
                         "`doit generate` writes them again\n")
        tracked = set()
    for path in existing:
        full = os.path.join(root, path)
        if path not in tracked and not (os.path.isdir(full) and not os.path.islink(full)):
            os.unlink(full)  # an owned directory's files are listed one by one
    kept = len(tracked)
    if kept:
        sys.stdout.write(f"ksbuild: {task}: kept {kept} committed derived file(s) (`clean --all` removes them)\n")


def _tracked(root: str, paths: list[str]) -> set[str]:
    """Which of the workspace paths git tracks (none outside a git checkout)."""
    try:
        result = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=root, capture_output=True,
                                env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_LITERAL_PATHSPECS": "1"})
    except OSError:
        return set()
    if result.returncode != 0:
        return set()
    prefix = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=root, capture_output=True, text=True).stdout.strip()
    return {name.decode()[len(prefix):] for name in result.stdout.split(b"\0") if name}
