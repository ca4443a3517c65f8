"""What a workspace's dodo.py imports: `from ksbuild.dodo import *`.

doit imports dodo.py after changing to its directory, the workspace root (where
workspace.yaml is), and opens its state database before asking for tasks: so the state
directory is made on import.
"""
from ksbuild.cli.main import fast_path_for_doit as _fast_path_for_doit

_fast_path_for_doit()  # a no-op answered from the last run's snapshot ends here (ksbuild.fastpath)

import gc as _gc  # noqa: E402
import os as _os  # noqa: E402

from ksbuild.cache.checker import DigestChecker as _DigestChecker
from ksbuild.cli.main import faults_end_the_run as _faults_end_the_run
from ksbuild.cli.main import install_fault_handlers as _install_fault_handlers
from ksbuild.cli.reporter import RunRecorder as _RunRecorder
from ksbuild.cli.tasks import all_tasks as _all_tasks, prepare_state_dir as _prepare_state_dir
from ksbuild.exec.stale import remove_stale_sandboxes as _remove_stale_sandboxes
from ksbuild.state import DOIT_DB as _DOIT_DB, check_doit_db as _check_doit_db

__all__ = ["DOIT_CONFIG", "task_ksbuild"]

_install_fault_handlers()  # Ctrl-C and a full disk end the run with one line, not a traceback
with _faults_end_the_run():
    _prepare_state_dir(_os.getcwd())
    _check_doit_db(_os.getcwd())  # a corrupt one is set aside before doit opens it
    _remove_stale_sandboxes()  # left in the temporary directory by runs that were killed

# A run allocates a few objects per task and frees little before it exits: the cyclic collector's
# repeated full passes over the planned graph cost more than all of doit's scheduling. Objects
# that exist once the graph is loaded are frozen out of collection (see all_tasks); young ones
# are collected rarely.
_gc.set_threshold(50_000, 20, 100)

DOIT_CONFIG = {
    "default_tasks": ["build"],
    "dep_file": _DOIT_DB,
    "backend": "sqlite3",
    "check_file_uptodate": _DigestChecker,  # inputs hashed once, for the action key and for doit alike
    "reporter": _RunRecorder,
}


def task_ksbuild():
    """Targets from workspace.yaml and the BUILD.yaml files."""
    yield from _all_tasks(_os.getcwd())


# Plain `doit` gets ksbuild's command line too (labels, help, exit codes): see cli.main.take_over.
from ksbuild.cli.main import take_over as _take_over  # noqa: E402

_take_over({"DOIT_CONFIG": DOIT_CONFIG, "task_ksbuild": task_ksbuild})
