"""Where a workspace is: the nearest directory holding workspace.yaml. Imports nothing of ksbuild,
so the no-op fast path can ask before anything else is loaded."""
from __future__ import annotations

import os

WORKSPACE_FILE = "workspace.yaml"


def find_root(start: str) -> str | None:
    """The nearest directory at or above `start` that holds workspace.yaml."""
    current = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(current, WORKSPACE_FILE)):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
