"""What a workspace's dodo.py imports: `from ksbuild.dodo import *`.

doit imports dodo.py after changing to its directory, the workspace root (where
workspace.yaml is), and opens its state database before asking for tasks: so the state
directory is made on import.
"""
import gc as _gc
import os as _os

from ksbuild.cli.reporter import RunRecorder as _RunRecorder
from ksbuild.cli.tasks import all_tasks as _all_tasks, prepare_state_dir as _prepare_state_dir

__all__ = ["DOIT_CONFIG", "task_ksbuild"]

_prepare_state_dir(_os.getcwd())

# A run allocates a few objects per task and frees little before it exits: the cyclic collector's
# repeated full passes over the planned graph cost more than all of doit's scheduling. Objects
# that exist once the graph is loaded are frozen out of collection (see all_tasks); young ones
# are collected rarely.
_gc.set_threshold(50_000, 20, 100)

DOIT_CONFIG = {
    "default_tasks": ["build"],
    "dep_file": _os.path.join(".ksbuild", "doit-state.sqlite"),
    "backend": "sqlite3",
    "reporter": _RunRecorder,
}


def task_ksbuild():
    """Targets from workspace.yaml and the BUILD.yaml files."""
    yield from _all_tasks(_os.getcwd())
