"""In-process actions, run by the executor inside the sandbox like any process.

Each takes the sandbox's working directory and the action's argv, and raises on failure.
"""
from __future__ import annotations

import os
import shutil


def copy(cwd: str, argv: tuple[str, ...]) -> None:
    """argv is (source, destination) pairs, relative to the execution root's working directory."""
    for source, destination in zip(argv[0::2], argv[1::2]):
        shutil.copyfile(os.path.join(cwd, source), os.path.join(cwd, destination))


BUILTINS = {"copy": copy}
