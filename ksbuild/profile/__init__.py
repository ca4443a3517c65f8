"""The build profile: timed phases of every action, merged into a Chrome trace at the end of a run.

Profiling is on when KSBUILD_PROFILE names a file; the variable is read once, when this module is
first imported (by the executor, in each worker process). Off, `phase` and `target` return one
shared do-nothing context manager: the executor pays a function call per phase, nothing more.

    with target(root, task):                        # the target's span; written when it ends
        with phase(task, index, "run", mnemonic):   # sandbox, cache lookup, run, commit, upload
            ...
"""
from __future__ import annotations

import os
from contextlib import nullcontext

ENABLED = bool(os.environ.get("KSBUILD_PROFILE"))
_OFF = nullcontext()


def phase(task: str, index: int | None, name: str, mnemonic: str = ""):
    """A timed phase of action `index` of `task` (None: of the whole target, as its commit)."""
    if not ENABLED:
        return _OFF
    from ksbuild.profile.recorder import Phase

    return Phase(task, index, name, mnemonic)


def target(root: str, task: str):
    """The span of one target's run; its events go to a file of their own under `root` when it ends."""
    if not ENABLED:
        return _OFF
    from ksbuild.profile.recorder import TargetSpan

    return TargetSpan(root, task)


def finish(root: str, out_path: str, records: list[dict]) -> None:
    """Merge the run's event files into a Chrome trace at `out_path` (and .ksbuild/last-profile.json)."""
    from ksbuild.profile.trace import merge_run

    merge_run(root, out_path, records)
