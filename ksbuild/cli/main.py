"""`ksbuild`: doit, run from the workspace root found by walking up from the current directory.

Ordinary faults end a run with one line, never a Python traceback: Ctrl-C (exit 130; the executor
has already left the interrupted target's outputs as they were) and a full disk (which names the
disk). `install_fault_handlers` gives plain `doit` runs the same, from ksbuild.dodo.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

INTERRUPTED = "ksbuild: interrupted; outputs of the interrupted target are unchanged"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_ERROR = 2  # doit's "error while executing a task"


def main(argv: list[str] | None = None) -> int:
    from ksbuild.errors import ConfigError
    from ksbuild.loader.workspace import require_root

    if (sys.argv[1:] if argv is None else argv)[:1] == ["init"]:  # before there is a workspace
        from ksbuild.init import main as init_main

        return init_main((sys.argv[1:] if argv is None else argv)[1:])
    try:
        root = require_root(os.getcwd())
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        return 3
    os.chdir(root)
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _run_doit(args)
    except BaseException as err:  # noqa: B036 (only the faults fault_exit knows; the rest re-raised)
        code = fault_exit(err)
        if code is None:
            raise
    if args[:1] == ["verify"] and code == 3:
        return 2  # verify's contract for CI: 2 is a usage or configuration error (doit says 3)
    return code


def _run_doit(args: list[str]) -> int:
    from doit.doit_cmd import DoitMain

    if os.path.isfile("dodo.py"):
        return DoitMain().run(args)
    from doit.cmd_base import ModuleTaskLoader

    import ksbuild.dodo

    return DoitMain(ModuleTaskLoader(vars(ksbuild.dodo))).run(args)


def fault_exit(err: BaseException) -> int | None:
    """For an ordinary fault, write its one line and return the exit code; None for anything else."""
    from ksbuild.files import DiskFull

    if isinstance(err, KeyboardInterrupt):
        line, code = INTERRUPTED, EXIT_INTERRUPTED
    elif isinstance(err, DiskFull):
        line, code = str(err), EXIT_ERROR
    else:
        return None
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code


@contextmanager
def faults_end_the_run():
    """Around ksbuild's own work inside doit (loading tasks, recording the run), which shows any
    Exception with its traceback: a full disk ends the run with its one line (exit 2), and a workspace
    ksbuild must not write to with its problem (exit 3, as doit's load errors)."""
    from ksbuild.errors import ConfigError
    from ksbuild.files import DiskFull

    try:
        yield
    except DiskFull as err:
        raise SystemExit(fault_exit(err)) from None
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        raise SystemExit(3) from None


def install_fault_handlers() -> None:
    """Under plain `doit`, which lets a KeyboardInterrupt (or an error while it records the run) reach
    the interpreter: print the fault's one line instead of a traceback, and exit with its code."""
    previous = sys.excepthook
    if getattr(previous, "ksbuild", False):
        return

    def hook(kind, value, traceback):
        code = fault_exit(value)
        if code is None:
            previous(kind, value, traceback)
            return
        os._exit(code)  # the interpreter would exit 1, or kill itself with SIGINT: not 130

    hook.ksbuild = True
    sys.excepthook = hook


if __name__ == "__main__":
    sys.exit(main())
