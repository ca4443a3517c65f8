"""Spike (not used by ksbuild): what an action would cost in a run-long sandbox.

Today every action gets its own bubblewrap: a process and five namespaces, 4.8 ms for
`sh -c 'cat a b > out'` against 2.5 ms bare, which alone keeps a cold build near 2x plain doit.
This measures the design proposed for issue 16: one bubblewrap for the whole run, in which a
launcher forks each action into a fresh mount namespace holding only /usr, /dev, /proc and the
action's directory, pivots into it, drops the capability bounding set and execs. A real launcher
also has to clear every capability set, give each action its own /tmp and home, bind its tools,
and kill what an action leaves behind in the PID namespace; the security suite then holds it to
today's isolation.

    python3 bench/spike_run_long_sandbox.py [--actions 200]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MNT_DETACH, SYS_PIVOT_ROOT, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 2, 155, 24, 38  # x86_64
COMMAND = ["/bin/sh", "-c", "cat a b > out"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--inside", help=argparse.SUPPRESS)  # the launcher, inside the sandbox
    options = parser.parse_args()
    if options.inside:
        return _launcher(options.inside, options.actions)
    box = tempfile.mkdtemp(prefix="ksbuild-spike-")
    try:
        for name in "ab":
            with open(os.path.join(box, name), "w") as handle:
                handle.write(name + "\n")
        bare = _timed(lambda: subprocess.run(COMMAND, cwd=box, check=True), options.actions)
        bwrap = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--ro-bind", "/usr", "/usr",
                 *[arg for name in ("bin", "lib", "lib64", "sbin") for arg in ("--symlink", f"usr/{name}", f"/{name}")],
                 "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        each = _timed(lambda: subprocess.run([*bwrap, "--bind", box, box, "--chdir", box, "--", *COMMAND],
                                             check=True), options.actions)
        print(f"bare:                       {bare * 1000:.2f} ms per action (median)")
        print(f"a bubblewrap per action:    {each * 1000:.2f} ms")
        subprocess.run([*bwrap[:4], "--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL", *bwrap[4:],
                        "--bind", box, box, "--ro-bind", __file__, "/spike.py", "--",
                        "/usr/bin/python3", "-S", "/spike.py", "--inside", box, "--actions", str(options.actions)],
                       check=True)
    finally:
        shutil.rmtree(box, ignore_errors=True)


def _timed(step, count: int) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        step()
        samples.append(time.perf_counter() - started)
    return sorted(samples)[count // 2]


def _launcher(box: str, count: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            raise OSError(ctypes.get_errno(), what)

    def mount(source, target: str, kind, flags: int) -> None:
        check(libc.mount(source and source.encode(), target.encode(), kind and kind.encode(), flags, None), target)

    def action() -> None:
        pid = os.fork()
        if pid == 0:
            try:
                check(libc.unshare(CLONE_NEWNS), "unshare")
                mount(None, "/", None, MS_REC | MS_PRIVATE)
                root = "/tmp/root"
                os.makedirs(root, exist_ok=True)
                mount("tmpfs", root, "tmpfs", 0)
                for name in ("usr", "box", "old", "proc", "dev"):
                    os.mkdir(f"{root}/{name}")
                for name in ("bin", "lib", "lib64", "sbin"):
                    os.symlink(f"usr/{name}", f"{root}/{name}")
                mount("/usr", f"{root}/usr", None, MS_BIND | MS_REC)
                mount(None, f"{root}/usr", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
                mount(box, f"{root}/box", None, MS_BIND)
                mount("/dev", f"{root}/dev", None, MS_BIND | MS_REC)
                mount("/proc", f"{root}/proc", None, MS_BIND | MS_REC)
                check(libc.syscall(SYS_PIVOT_ROOT, root.encode(), f"{root}/old".encode()), "pivot_root")
                check(libc.umount2(b"/old", MNT_DETACH), "umount /old")
                os.chdir("/box")
                for capability in range(64):
                    libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
                libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
                os.execv(COMMAND[0], COMMAND)
            except BaseException as err:  # noqa: B036 (the forked child must never return)
                sys.stderr.write(f"spike: {err}\n")
                os._exit(127)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("spike: the action failed")

    print(f"one bubblewrap for the run: {_timed(action, count) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
