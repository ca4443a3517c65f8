"""A fresh execution root per action, holding copies of the declared inputs and nothing else; the
execution roots of a process live in a directory of its own (run_directory)."""
from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from functools import lru_cache

from ksbuild.model import ActionSpec

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # plain system utilities (sh, tr, ...); pinned tools go first


@dataclass(frozen=True)
class Sandbox:
    base: str  # holds root/, home/ and tmp/
    root: str  # the execution root: the action's view of the workspace

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def environment(self, action: ActionSpec) -> dict[str, str]:
        """An explicit environment: nothing from the caller leaks in. Actions with tools also get
        the Go toolchain and the machine's module cache, read-only and without a proxy (modules come
        from the module's fetch action, `network`), and ksbuild's own Go build cache."""
        env = {
            "PATH": BASE_PATH,
            "HOME": os.path.join(self.base, "home"),
            "TMPDIR": os.path.join(self.base, "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "SOURCE_DATE_EPOCH": "0",
        }
        tools = action.all_tools
        if tools or action.toolchain == "go":
            from ksbuild.toolchain import store
            from ksbuild.toolchain.goenv import go_env

            go = go_env(action.go_version)
            tool_dirs = list(dict.fromkeys(os.path.dirname(store.binary_path(tool, go_env(tool.go or action.go_version)))
                                           for tool in tools))
            env["PATH"] = os.pathsep.join([*tool_dirs, go.bin_dir, BASE_PATH])
            env["GOPATH"] = os.path.join(self.base, "home", "go")
            env.update(go.sandbox_env())
            env["GOCACHE"] = go_build_cache()
            if not action.network:
                env["GOPROXY"] = "off"
        env.update(action.env)
        return env


def sandbox_parent() -> str:
    """Where sandboxes are made: KSBUILD_SANDBOX_DIR, else /dev/shm when it is a roomy tmpfs (making
    and removing an execution root's directories there costs a tenth of a disk's journal), else the
    temporary directory."""
    return os.environ.get("KSBUILD_SANDBOX_DIR") or _default_parent()


@lru_cache(maxsize=1)
def _default_parent() -> str:
    try:
        stat = os.statvfs(SHARED_MEMORY)
        if stat.f_bavail * stat.f_frsize >= 2 * 2**30 and os.access(SHARED_MEMORY, os.W_OK):
            return SHARED_MEMORY
    except OSError:
        pass
    return tempfile.gettempdir()


SHARED_MEMORY = "/dev/shm"


def go_build_cache() -> str:
    """ksbuild's own Go build cache, apart from the user's (see exec.isolation)."""
    from ksbuild.toolchain import cache_home

    return os.environ.get("KSBUILD_GOCACHE") or os.path.join(cache_home(), "go-build")


def make_sandbox(action: ActionSpec, source) -> Sandbox:
    """A fresh sandbox holding the action's inputs, read from `source(workspace path)` and
    `source_dir(workspace dir)` (a Pending's, so earlier actions' outputs are seen), and its output
    directories, empty. The caller removes `box.base` (remove_tree). An input inside one of the
    action's own output directories is not staged: a generator writes that directory, it does not
    read it."""
    if os.environ.get("KSBUILD_KEEP_SANDBOX") == "1":  # owned by no run: exec.stale never removes it
        base = tempfile.mkdtemp(prefix="ksbuild-", dir=os.path.realpath(sandbox_parent()))
    else:
        base = tempfile.mkdtemp(prefix="box-", dir=run_directory())
    box = Sandbox(base=base, root=os.path.join(base, "root"))
    made = {base}

    def make(directory: str) -> None:  # os.makedirs, once per directory of this box
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)

    try:
        for name in ("root", "home", "tmp"):  # in a new directory
            os.mkdir(os.path.join(base, name))
            made.add(os.path.join(base, name))
        for exec_path, workspace_path in action.input_dirs:
            shutil.copytree(source.source_dir(workspace_path), box.path(exec_path), dirs_exist_ok=True)
        owned = tuple(exec_dir + "/" for exec_dir, _ in action.output_dirs)
        for exec_path, workspace_path in action.inputs:
            if exec_path.startswith(owned):
                continue
            destination = box.path(exec_path)
            make(os.path.dirname(destination))
            copy_file(source.source(workspace_path), destination)
        make(box.path(action.cwd))
        for exec_path, _ in action.outputs:
            make(os.path.dirname(box.path(exec_path)))
        for exec_path, _ in action.output_dirs:
            make(box.path(exec_path))
    except BaseException:
        remove_tree(base)
        raise
    return box


_run_directory: tuple[int, str] | None = None  # (process id, path)


def run_directory() -> str:
    """This process's directory of sandboxes (`ksbuild-run-*` in sandbox_parent()), marked with its
    process id: exec.stale removes it, and whatever is left in it, once the process is gone."""
    global _run_directory
    if _run_directory is None or _run_directory[0] != os.getpid():  # a worker forked by doit -n: its own
        from multiprocessing.util import Finalize

        from ksbuild.exec.stale import OWNER_FILE

        path = tempfile.mkdtemp(prefix="ksbuild-run-", dir=os.path.realpath(sandbox_parent()))  # real: isolation binds it
        with open(os.path.join(path, OWNER_FILE), "w") as mark:
            mark.write(str(os.getpid()))
        _run_directory = (os.getpid(), path)
        Finalize(None, end_of_process, exitpriority=1)  # how a worker of doit -n ends (cli.main: the others)
    return _run_directory[1]


def end_of_process() -> None:
    """This process's sandboxes are all gone by now: its run-long sandbox and their directory go too."""
    global _run_directory
    import sys

    worker_sandbox = sys.modules.get("ksbuild.exec.worker_sandbox")
    if worker_sandbox is not None:
        worker_sandbox.stop(wait=False)  # killed: it would end with this process anyway
    if _run_directory is not None and _run_directory[0] == os.getpid():
        shutil.rmtree(_run_directory[1], ignore_errors=True)
    _run_directory = None


def remove_tree(path: str) -> None:
    """Remove a sandbox's directory (or a restore's), in half the system calls of shutil.rmtree: the
    action that wrote it has ended, every process of it too, so nothing moves under the walk; a
    link is removed, never followed. What it cannot remove (a directory the action made
    unreadable), shutil.rmtree tries."""
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(entry.path)
                else:
                    os.unlink(entry.path)
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def copy_file(source: str, destination: str, into: int | None = None) -> None:
    """shutil.copy2 of a regular file to a new `destination` (or into the open, empty file `into`),
    in a third of its system calls: the source is opened once and looked at, never as a FIFO."""
    try:
        reader = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        return shutil.copy2(source, destination)  # a link: as copy2 always did
    try:
        found = os.fstat(reader)
        if not stat.S_ISREG(found.st_mode):
            return shutil.copy2(source, destination)  # says what is wrong with it
        fd = into if into is not None else \
            os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, found.st_mode & 0o7777)
        try:
            left = found.st_size
            while left > 0:
                sent = os.sendfile(fd, reader, None, left)
                if sent == 0:
                    break
                left -= sent
            os.fchmod(fd, found.st_mode & 0o7777)
            os.utime(fd, ns=(found.st_atime_ns, found.st_mtime_ns))
        finally:
            if into is None:
                os.close(fd)
    finally:
        os.close(reader)


def files_under(directory: str) -> set[str]:
    """Every file below `directory`, as '/'-separated relative paths."""
    found = set()
    for current, _, files in os.walk(directory):
        relative = os.path.relpath(current, directory)
        for name in files:
            found.add(name if relative == "." else f"{relative}/{name}".replace(os.sep, "/"))
    return found
