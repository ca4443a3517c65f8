"""A fresh execution root per action, holding copies of the declared inputs and nothing else."""
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
    directories, empty. The caller removes `box.base`. An input inside one of the action's own
    output directories is not staged: a generator writes that directory, it does not read it."""
    base = tempfile.mkdtemp(prefix="ksbuild-", dir=sandbox_parent())
    box = Sandbox(base=base, root=os.path.join(base, "root"))
    try:
        with open(os.path.join(base, ".owner"), "w") as mark: mark.write(str(os.getpid()))  # noqa: E701, exec.stale
        for name in ("root", "home", "tmp"):
            os.mkdir(os.path.join(base, name))
        for exec_path, workspace_path in action.input_dirs:
            shutil.copytree(source.source_dir(workspace_path), box.path(exec_path), dirs_exist_ok=True)
        owned = tuple(exec_dir + "/" for exec_dir, _ in action.output_dirs)
        for exec_path, workspace_path in action.inputs:
            if exec_path.startswith(owned):
                continue
            destination = box.path(exec_path)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            copy_file(source.source(workspace_path), destination)
        os.makedirs(box.path(action.cwd), exist_ok=True)
        for exec_path, _ in action.outputs:
            os.makedirs(os.path.dirname(box.path(exec_path)), exist_ok=True)
        for exec_path, _ in action.output_dirs:
            os.makedirs(box.path(exec_path), exist_ok=True)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return box


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
