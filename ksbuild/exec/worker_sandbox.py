"""A run-long sandbox per ksbuild process: one bubblewrap, started at the first action, runs every
action of the process in a view of the action's own (exec.launcher). An action then costs about
0.5 ms more than the bare command, against 3 ms for a bubblewrap of its own, with the same view:
its directories at their own paths, the root, /dev and the system read-only, no network, a PID
namespace, /proc, /tmp, /dev/shm and IPC namespace of its own, and no capabilities at all (a
bubblewrap started by root keeps them).

While it starts, and where it cannot (no user namespaces, an unknown machine), `current()` is None
and actions get a bubblewrap each. A process forked by doit's parallel runner starts its own.
"""
from __future__ import annotations

import marshal
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
WANTED_ENV = "KSBUILD_RUN_LONG_SANDBOX"  # 0: never, 1: always (an error where it cannot run), else when it is up


class SandboxLost(Exception):
    """The run-long sandbox ended in the middle of an action."""


class WorkerSandbox:
    def __init__(self, system: list[str], links: list[tuple[str, str]], parent: str):
        self.owner = os.getpid()
        self.sequence = 0
        self.directory = tempfile.mkdtemp(prefix="launcher-", dir=parent)  # exec.stale removes it with its run's
        self.mountpoint = os.path.join(self.directory, "root")
        os.mkdir(self.mountpoint)
        command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--unshare-user",
                   "--uid", str(os.getuid()), "--gid", str(os.getgid()), "--cap-add", "ALL",
                   "--dev-bind", "/", "/", "--proc", "/proc", "--", sys.executable, "-I", "-S", LAUNCHER]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"},
                                        start_new_session=True)
        self._send({"mountpoint": self.mountpoint, "system": system, "links": links})
        self.started = False

    def ready(self, wait: bool) -> bool:
        """Whether it has started (waiting for that, or not): until then the process's actions get a
        bubblewrap each, so a run of one action never waits the 30 ms a start takes. Raises
        SandboxLost when it cannot run an action here."""
        if self.started:
            return True
        if not wait and not select.select([self.process.stdout], [], [], 0)[0]:
            return False
        if self._receive() != b"ready":
            raise SandboxLost(self._stopped())
        self.started = True
        probe = os.path.join(self.directory, "probe")
        os.mkdir(probe)  # bound, as an action's directories are
        code, message = self.run(["true"], {"PATH": "/usr/bin:/bin"}, probe, [], [(probe, probe)], "",
                                 os.path.join(self.directory, "probe-output"))
        if code != 0:  # the kernel refused a step: unknown until an action is tried
            self.close()
            raise SandboxLost(f"the run-long sandbox cannot run an action here ({message or f'exit {code}'})")
        return True

    def run(self, argv, env: dict[str, str], cwd: str, read_only: list[tuple[str, str]],
            writable: list[tuple[str, str]], stdout_path: str, output_path: str) -> tuple[int, str]:
        """Run one command; its exit code and, when it never started, why (exit code 127). The
        directories are pairs (as the command sees it, its real path); the files, real paths. A
        sandbox that failed ("sandbox...") has ended: the next action starts another."""
        self.sequence += 1
        request = {"id": self.sequence, "argv": list(argv), "env": env, "cwd": cwd, "ro": read_only,
                   "rw": writable, "stdout": stdout_path, "output": output_path}
        try:
            self._send(request)
            while True:
                reply = self._receive()
                if reply is None:
                    raise SandboxLost(self._stopped())
                if reply[0] in (self.sequence, -1):  # -1: the launcher's, for an init that died
                    if reply[2].startswith("sandbox"):
                        self.close()
                    return reply[1], reply[2]
        except SandboxLost:
            raise
        except BaseException:  # Ctrl-C, or a broken pipe: the sandbox and its action end now
            self.close()
            raise

    def close(self, wait: bool = True) -> str:
        """End the sandbox and whatever runs in it; what it printed on its way out (when `wait`ing
        for its end: at the end of a run nobody needs to)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not wait:
            shutil.rmtree(self.directory, ignore_errors=True)
            return ""
        self.process.wait()
        printed = b""
        if not self.process.stderr.closed:
            printed = self.process.stderr.read()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:  # a request it never read
                pass
        shutil.rmtree(self.directory, ignore_errors=True)
        return printed.decode(errors="replace")

    def _send(self, value) -> None:
        data = marshal.dumps(value)
        try:
            self.process.stdin.write(struct.pack(">I", len(data)) + data)
            self.process.stdin.flush()
        except BrokenPipeError:
            raise SandboxLost(self._stopped()) from None

    def _receive(self):
        head = self.process.stdout.read(4)
        if len(head) < 4:
            return None
        return marshal.loads(self.process.stdout.read(struct.unpack(">I", head)[0]))

    def _stopped(self) -> str:
        lines = self.close().strip().splitlines() or [f"exit {self.process.returncode}"]
        return f"the run-long sandbox stopped ({lines[-1]})"


_current: WorkerSandbox | None = None
_unavailable = ""
_asked = (0, 0)  # (process id, actions it asked for it): a forked worker counts its own


def current(system: list[str], links: list[tuple[str, str]], parent: str) -> WorkerSandbox | None:
    """This process's run-long sandbox once it has started (it is started now if need be); None
    while it starts and where it cannot run. KSBUILD_RUN_LONG_SANDBOX: 0 never, 1 always (waits
    for the start; a machine where it cannot run is then an error), else as soon as it is up."""
    global _current, _unavailable, _asked
    wanted = os.environ.get(WANTED_ENV, "")
    if wanted == "0" or (_unavailable and wanted != "1"):
        return None
    count = _asked[1] + 1 if _asked[0] == os.getpid() else 1
    _asked = (os.getpid(), count)
    if count == 1 and wanted != "1":
        return None  # a run of one action never starts it
    if _current is None or _current.owner != os.getpid() or _current.process.poll() is not None:
        if _current is not None and _current.owner == os.getpid():
            _current.close()  # one that ended: its pipes and directory go with it
        _current = None  # a parent's (doit forked this worker) is never reused
        try:
            _current = WorkerSandbox(system, links, parent)
        except OSError as err:
            _unavailable = str(err)
    try:
        if _current is not None and _current.ready(wait=wanted == "1"):
            return _current
    except SandboxLost as err:
        _unavailable, _current = str(err), None
    if wanted == "1" and _unavailable:
        raise SandboxLost(_unavailable)
    return None


MAX_FAILURES = 3  # run-long sandboxes that failed an action, after which a process does without


def failed(message: str) -> None:
    """A run-long sandbox failed before an action's command started (and has ended): after a few,
    this process's actions get a bubblewrap each."""
    global _unavailable, _failures
    _failures += 1
    if _failures >= MAX_FAILURES:
        _unavailable = f"it failed {_failures} times ({message})"


_failures = 0


def stop(wait: bool = True) -> None:
    """End this process's run-long sandbox, if it started one."""
    global _current, _asked
    if _current is not None and _current.owner == os.getpid():
        _current.close(wait)
    _current, _asked = None, (0, 0)
