"""`ksbuild`: doit, run from the workspace root found by walking up from the current directory.

Ordinary faults end a run with one line, never a Python traceback: Ctrl-C (exit 130; the executor
has already left the interrupted target's outputs as they were) and a full disk (which names the
disk). `install_fault_handlers` gives plain `doit` runs the same, from ksbuild.dodo.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

INTERRUPTED = "ksbuild: interrupted; outputs of the interrupted target are unchanged"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_ERROR = 2  # doit's "error while executing a task"


STARTED = time.monotonic()  # the run's start, for a summary line answered by the fast path
INVOKED_FROM = ""  # the directory the command was typed in (labels such as `:target` are relative to it)
PRINTING = {"graph", "versions", "explain", "list", "info", "help", "tools"}  # commands whose output is piped
FRONT_END = False  # set while the front end runs doit: dodo.py's import must not take over again


def entry() -> None:
    """The `ksbuild` program: main, then exit without tearing the interpreter down."""
    exit_now(main())


def exit_now(code: int) -> None:
    """End the process with `code` once its output is out. Freeing a planned graph of thousands of
    targets object by object, as the interpreter's teardown does, costs more than a whole no-op; every
    file ksbuild and doit write is closed by now (the stat cache is closed here), and doit has joined
    its workers."""
    digests = sys.modules.get("ksbuild.cache.digests")
    if digests is not None:
        digests.close_all()
    sandboxes = sys.modules.get("ksbuild.exec.sandbox")
    if sandboxes is not None:
        sandboxes.end_of_process()  # the run-long sandbox, and the directory of this run's sandboxes
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`ksbuild graph | head`): nothing more to say
            pass
    os._exit(code if isinstance(code, int) else 1)


def main(argv: list[str] | None = None) -> int:
    """`ksbuild ARGS`: help and version here; anything else in the workspace found from here."""
    args = list(sys.argv[1:] if argv is None else argv)
    cwd = os.getcwd()
    if args[:1] not in (["init"], ["--help"], ["-h"], ["help"], ["--version"]) and _answered_from_snapshot(cwd, args):
        return 0  # nothing changed since the last run of this command line: imports nothing more
    from ksbuild.cli import commandline
    from ksbuild.errors import ConfigError
    from ksbuild.loader.workspace import require_root

    if args[:1] == ["init"]:  # before there is a workspace
        from ksbuild.init import main as init_main

        return init_main(args[1:])
    if args in (["--help"], ["-h"], ["help"]):
        sys.stdout.write(commandline.help_text())
        return commandline.EXIT_OK
    if args[:1] == ["--version"]:
        sys.stdout.write(commandline.version_text())
        return commandline.EXIT_OK
    try:
        root = require_root(cwd)
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        return commandline.EXIT_USAGE
    return run_command(root, cwd, args)


def _answered_from_snapshot(cwd: str, args: list[str]) -> bool:
    """The no-op fast path (ksbuild.fastpath), before doit or the graph is imported."""
    from ksbuild.rootdir import find_root

    global INVOKED_FROM
    INVOKED_FROM = cwd
    root = find_root(cwd)
    if root is None or not os.path.isfile(os.path.join(root, ".ksbuild", "noop.snapshot")):
        return False
    from ksbuild import fastpath

    return fastpath.answer(root, cwd, args, STARTED) or fastpath.answer_replanned(root, STARTED)


def fast_path_for_doit() -> None:
    """Called first by ksbuild.dodo's import: plain `doit` answers a no-op from the snapshot too."""
    if not FRONT_END and _invoked_as_doit() and _answered_from_snapshot(os.getcwd(), sys.argv[1:]):
        exit_now(0)


def run_command(root: str, cwd: str, args: list[str], namespace: dict | None = None) -> int:
    """Check and translate the arguments (cli.commandline), run doit on them in the workspace at
    `root`, and return ksbuild's exit code. `namespace`: the tasks module, when dodo.py is being
    imported by doit itself (see take_over)."""
    global FRONT_END
    from ksbuild.cli import commandline
    from ksbuild.errors import ConfigError

    try:
        args, env = commandline.split_globals(args)
        command = commandline.command_of(args)
        if "--help" in args or "-h" in args:
            return _command_help(command, args)
        commandline.check_options(command, args)
        if command == "clean" and {"--all", "-a", "--clean-all"} & set(args):
            env["KSBUILD_CLEAN_COMMITTED"] = "1"  # committed derived files too (doit's own: every task)
            args = ["--clean-all" if word == "--all" else word for word in args]
        if command in commandline.TARGET_COMMANDS and _names_targets(args, command):
            args = _translated(root, cwd, args, command)
    except commandline.UsageError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        return commandline.EXIT_USAGE
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        return commandline.EXIT_USAGE
    os.environ.update(env)
    os.chdir(root)
    if command in PRINTING:  # `doit graph | head`: end quietly when the reader has had enough
        import signal

        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    FRONT_END = True
    try:
        code = _run_doit(args, namespace)
    except BaseException as err:  # noqa: B036 (only the faults fault_exit knows; the rest re-raised)
        code = fault_exit(err)
        if code is None:
            raise
        return code
    return commandline.exit_code(code)


def take_over(namespace: dict) -> None:
    """Called at the end of ksbuild.dodo's import: when plain `doit` imports the workspace's dodo.py,
    the same front end runs the command and exits with its code (one scheme for `doit` and
    `ksbuild`). Not when ksbuild's own front end, or a program using doit as a library, imports it."""
    if FRONT_END or not _invoked_as_doit():
        return
    exit_now(run_command(os.getcwd(), INVOKED_FROM or os.getcwd(), sys.argv[1:], namespace))


def _invoked_as_doit() -> bool:
    """`doit ...` or `python -m doit ...` (not a program that uses doit as a library)."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else "."
    return os.path.basename(program) == "doit" or os.path.basename(os.path.dirname(os.path.abspath(program))) == "doit"


def _command_help(command: str, args: list[str]) -> int:
    from ksbuild.cli import commandline

    if command in commandline.COMMANDS:
        sys.stdout.write(commandline.command_help(command))
        return commandline.EXIT_OK
    if command == "run":
        sys.stdout.write(commandline.help_text())
        return commandline.EXIT_OK
    return _run_doit(["help", command], None)


def _names_targets(args: list[str], command: str) -> bool:
    return any(not word.startswith("-") and word != command for word in args)


def _translated(root: str, cwd: str, args: list[str], command: str) -> list[str]:
    """Labels as task names (loading the graph once: the tasks module reuses it)."""
    from ksbuild.cli import commandline
    from ksbuild.cli.tasks import graph_for

    graph = graph_for(root)
    components = {c.name for c in graph.workspace.components}
    tasks = set(graph.plans) | components | {"build", "generate", "tool", "release-check", "publish-check"} \
        | {pin.task for pin in graph.workspace.all_tools} | set(commandline.COMMANDS)
    here = commandline.component_here(root, cwd, graph.workspace.components)
    return commandline.translate_labels(args, command, tasks, components, here)


def _run_doit(args: list[str], namespace: dict | None = None) -> int:
    from doit import plugin
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    plugin.entry_points_impl = _no_doit_plugins

    if namespace is not None:
        return DoitMain(ModuleTaskLoader(namespace)).run(args)
    if os.path.isfile("dodo.py"):
        return DoitMain().run(args)
    import ksbuild.dodo

    return DoitMain(ModuleTaskLoader(vars(ksbuild.dodo))).run(args)


def _no_doit_plugins():
    """`ksbuild` runs its own commands: doit does not read every installed package's metadata looking
    for plugins of its own (20 ms of every run that is not a no-op)."""
    return lambda group: ()


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
    ksbuild must not write to with its problem (exit 2, a configuration error)."""
    from ksbuild.errors import ConfigError
    from ksbuild.files import DiskFull

    try:
        yield
    except DiskFull as err:
        raise SystemExit(fault_exit(err)) from None
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        raise SystemExit(2) from None


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
    entry()
