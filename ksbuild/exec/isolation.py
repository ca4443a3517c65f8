"""Isolation of an action's process: bubblewrap where it runs, the copy sandbox elsewhere.

Under bubblewrap an action sees its execution root (read-write, at the same path as outside, so
paths in its command need no translation), its private home and temporary directories, its
pinned tools and Go toolchain (read-only), the system's `/usr` (read-only), and nothing else: no
home directory, no other part of the workspace, no cache directory, no network, its own PID
namespace (the caller's environment in /proc is out of reach), and it dies with ksbuild.

Go actions also read the module cache (read-only; GOPROXY=off: modules come from the module's
fetch action, the only kind of action that gets the network) and write a Go build cache of
ksbuild's own, shared by the Go actions of this machine (bubblewrap 0.8 has no overlay to give
each action a private copy; Go keys its entries by the hash of their inputs).

Each ksbuild process runs its actions in one run-long bubblewrap (exec.worker_sandbox, exec.launcher),
each action in a view of its own (the same as a bubblewrap of its own gives) with no capabilities;
network actions, and machines where that cannot start, get a bubblewrap per action.

Where bubblewrap cannot run, actions run in the copy sandbox: it holds only the declared inputs,
but nothing stops a process from reading or writing elsewhere. Every run says so, and such
outputs are never written to a shared cache (`hermetic` is False).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from functools import lru_cache

from ksbuild.model import ActionSpec

SYSTEM_DIRS = ("/usr",)  # read-only; /bin, /lib, /lib64, /sbin are links into it (merged /usr) or bound too
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates")
MODE_ENV = "KSBUILD_SANDBOX"  # bwrap (the default where it works) or copy


class IsolationUnavailable(Exception):
    pass


class CannotStart(Exception):
    """The action's program could not be started (not installed, not on its PATH, not runnable)."""


class SandboxFailed(Exception):
    """The sandbox itself failed (a directory could not be bound, the sandbox died)."""


def mode() -> str:
    """`bwrap` or `copy`: what this machine can do, or what KSBUILD_SANDBOX asks for."""
    wanted = os.environ.get(MODE_ENV, "")
    if wanted == "copy":
        return "copy"
    if _bwrap_works():
        return "bwrap"
    if wanted == "bwrap":
        raise IsolationUnavailable("KSBUILD_SANDBOX=bwrap, but bubblewrap does not run here "
                                   f"({_bwrap_problem() or 'not installed'}); install Debian's bubblewrap")
    return "copy"


def hermetic() -> bool:
    return mode() == "bwrap"


_warned = False


def warn_if_not_hermetic() -> None:
    """Once per process: a copy sandbox is no isolation, and the user must know it."""
    global _warned
    if not _warned and mode() == "copy":
        _warned = True
        reason = "KSBUILD_SANDBOX=copy" if os.environ.get(MODE_ENV) == "copy" else \
            f"bubblewrap cannot run here ({_bwrap_problem() or 'not installed'})"
        sys.stderr.write(f"ksbuild: warning: {reason}: actions run in a copy sandbox that does not isolate them "
                         "(not hermetic; their outputs stay out of shared caches). Install Debian's bubblewrap.\n")


def run(argv, box, action: ActionSpec, env: dict[str, str], stdout_path: str = "") -> tuple[int, str]:
    """Run `argv` for `action` in its sandbox `box`, isolated as well as this machine allows: its
    exit code, and what it printed (only its stderr when its stdout goes to `stdout_path`)."""
    if mode() == "bwrap" and not action.network:
        from ksbuild.exec import worker_sandbox
        from ksbuild.exec.sandbox import run_directory

        try:
            sandbox = worker_sandbox.current(*_system_parts(), run_directory())
        except worker_sandbox.SandboxLost as err:  # KSBUILD_RUN_LONG_SANDBOX=1, and it cannot run here
            raise SandboxFailed(str(err)) from None
        if sandbox is not None:
            output = os.path.join(box.base, "output")
            try:
                code, message = sandbox.run(argv, env, box.path(action.cwd), _with_real(_readable(action, env), box),
                                            _with_real(_writable(box, action, env), box),
                                            stdout_path and box.path(stdout_path),
                                            output)
            except worker_sandbox.SandboxLost as err:
                raise SandboxFailed(str(err)) from None
            if message.startswith("execvp"):
                raise CannotStart(message)
            if not message:
                return code, _printed(output)
            if not message.startswith("sandbox:") or os.environ.get(worker_sandbox.WANTED_ENV) == "1":
                raise SandboxFailed(message)
            worker_sandbox.failed(message)  # it never started the command, and it has ended: this action
            # gets a bubblewrap of its own
    return _run_process(wrap(argv, box, action, env, network=action.network), box, action, env, stdout_path)


def _printed(path: str) -> str:
    """What the action printed, from its output file (most print nothing)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(fd)


def _run_process(command: list[str], box, action: ActionSpec, env: dict[str, str], stdout_path: str):
    stdout = open(box.path(stdout_path), "wb") if stdout_path else subprocess.PIPE
    try:
        process = subprocess.Popen(command, cwd=box.path(action.cwd), env=env, stdin=subprocess.DEVNULL,
                                   stdout=stdout, stderr=subprocess.PIPE if stdout_path else subprocess.STDOUT,
                                   start_new_session=True,
                                   preexec_fn=None if command[0] == "bwrap" else _die_with_parent)
    except OSError as err:
        raise CannotStart(err.strerror) from None
    finally:
        if stdout_path:
            stdout.close()
    try:
        out, err = process.communicate()
    except BaseException:
        _stop(process)
        raise
    output = (err if stdout_path else out).decode(errors="replace")
    if process.returncode != 0 and output.startswith("bwrap: execvp"):
        raise CannotStart(output.strip()[len("bwrap: "):])
    return process.returncode, output


def _die_with_parent() -> None:
    """In the copy sandbox's child, before exec: end with ksbuild, even when ksbuild is killed (only
    this process; bubblewrap's --die-with-parent takes its whole PID namespace, and costs no fork of
    the whole interpreter that a preexec_fn forces)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen) -> None:
    """End the action's whole process group: first politely, then for good."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wrap(argv, box, action: ActionSpec, env: dict[str, str], network: bool = False) -> list[str]:
    """The command line that runs `argv` for `action` inside a bubblewrap of its own (`box`), with
    no capabilities even when ksbuild runs as root."""
    if mode() != "bwrap":
        return list(argv)
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user-try"]
    if os.getuid() == 0:
        args += ["--cap-drop", "ALL"]  # root's bubblewrap keeps every capability otherwise
    if network:
        args.append("--share-net")
    args += _system()
    if network:
        for path in NETWORK_FILES:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
    for path in _readable(action, env):
        args += ["--ro-bind", path, path]
    for path in _writable(box, action, env):
        args += ["--bind", path, path]
    args += ["--remount-ro", "/", "--chdir", box.path(action.cwd), "--"]  # as the run-long sandbox's root
    return args + list(argv)


def _readable(action: ActionSpec, env: dict[str, str]) -> list[str]:
    """Tools, the Go toolchain and module cache: read-only, and only when they exist (a relative PATH
    entry names a directory of the execution root, which is there already)."""
    paths = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and not entry.startswith("/usr")]
    if action.toolchain == "go" or action.all_tools:
        paths += [env.get("GOROOT", "")] + ([] if action.network else [env.get("GOMODCACHE", "")])
    return [p for p in dict.fromkeys(paths) if os.path.isabs(p) and os.path.isdir(p)]


def _with_real(paths: list[str], box) -> list[tuple[str, str]]:
    """Each path as the action sees it, and where it really is (the run-long sandbox binds from
    there: a link in a path would lead into the action's view, not the machine's). The box is made
    in a real directory (exec.sandbox.run_directory)."""
    inside = box.base + os.sep
    return [(path, path if path.startswith(inside) else _real(path)) for path in paths]


@lru_cache(maxsize=256)
def _real(path: str) -> str:
    return os.path.realpath(path)


def _writable(box, action: ActionSpec, env: dict[str, str]) -> list[str]:
    """The sandbox's execution root, home and temporary directory, and the Go caches an action
    writes: the same in both sandboxes, whose outputs share action keys."""
    paths = [box.root, os.path.join(box.base, "home"), os.path.join(box.base, "tmp")]
    if env.get("GOCACHE") and (action.toolchain == "go" or action.all_tools):
        os.makedirs(env["GOCACHE"], exist_ok=True)
        paths.append(env["GOCACHE"])
    if action.network and env.get("GOMODCACHE"):
        os.makedirs(env["GOMODCACHE"], exist_ok=True)
        paths.append(env["GOMODCACHE"])  # the fetch fills it
    return paths


def _system() -> list[str]:
    """The system's read-only directories, /proc, a read-only /dev, and a private /dev/shm and /tmp."""
    directories, links = _system_parts()
    args = [arg for directory in directories for arg in ("--ro-bind", directory, directory)]
    args += [arg for target, path in links for arg in ("--symlink", target, path)]
    return args + ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                   "--perms", "1777", "--tmpfs", "/tmp"]


@lru_cache(maxsize=1)
def _system_parts() -> tuple[list[str], list[tuple[str, str]]]:
    """The system directories bound read-only, and the links to them (/bin -> usr/bin on a merged /usr)."""
    directories, links = list(SYSTEM_DIRS), []
    for name in ("bin", "lib", "lib64", "sbin"):
        path = f"/{name}"
        if os.path.islink(path):
            links.append((os.readlink(path), path))
        elif os.path.isdir(path):
            directories.append(path)
    return directories, links


@lru_cache(maxsize=1)
def _bwrap_works() -> bool:
    return not _bwrap_problem()


@lru_cache(maxsize=1)
def _bwrap_problem() -> str:
    """'' when bubblewrap can make an isolated process here, else what went wrong."""
    binary = shutil.which("bwrap")
    if binary is None:
        return "no bwrap on PATH"
    try:
        probe = subprocess.run([binary, "--die-with-parent", "--unshare-all", *_system(), "--", "true"],
                               capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
                               env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    return "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["exit %d" % probe.returncode])[-1]
