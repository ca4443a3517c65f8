"""The program inside a worker's run-long sandbox (exec.worker_sandbox): it runs each action it is
sent in namespaces of the action's own. Standard library only: it runs as `python3 -I -S`.

It starts inside one bubblewrap: a user namespace in which it holds every capability, no network,
the machine's files at their own paths. Ahead of each action it forks the action's init: PID 1 of
a fresh PID namespace, in fresh mount, IPC and UTS namespaces, which builds the generic part of the
action's filesystem on an empty tmpfs (the system directories read-only, a private /dev holding
only the harmless devices, a /proc of the new PID namespace, a private /tmp) and waits. So that work
overlaps ksbuild's own between two actions. When the action arrives, the init binds the requested
directories at their own paths (read-only unless asked otherwise; never a device or set-user-ID
file), pivots into the new root and detaches everything else, then starts the command with every
capability set empty and no way to gain one. When the command ends, the init kills and reaps
whatever it left behind in the PID namespace before it reports: no leftover can touch the outputs.

Protocol on stdin/stdout, each message a 4-byte big-endian length and a marshal'd value. First
the set-up {mountpoint, system, links}; the launcher answers b"ready" once it can run actions.
Then requests {id, argv, env, cwd, ro, rw, stdout, output}, one at a time: the waiting init reads
the request from the launcher's input itself and answers (id, exit code, message) on its output,
no hop through the launcher either way; the message says why the command never started (exit
code 127). An init that ends without answering (killed) gets an answer from the launcher, (-1,
127, why), and the launcher ends: a request or an answer may have been cut in half.
"""
import ctypes
import errno
import marshal
import os
import signal
import struct
import sys
import warnings  # noqa: F401 (loaded now: the standard library is out of sight after the pivot)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x04000000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
MNT_DETACH, AT_FDCWD, AT_RECURSIVE = 2, -100, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 1, 2, 4
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SECURE_NOROOT_AND_LOCKS = 0x2F  # SECBIT_NOROOT, _NO_SETUID_FIXUP and their locks: uid 0 gains nothing
CAPABILITY_VERSION_3 = 0x20080522
SYSCALLS = {"x86_64": {"pivot_root": 155, "mount_setattr": 442},
            "aarch64": {"pivot_root": 41, "mount_setattr": 442}}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = (("/proc/kcore", "core"), ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"))
NOT_STARTED = 127
INPUT_ENDED = 3  # an init's exit status: ksbuild closed the launcher's input, the launcher ends
REQUESTS, REPLIES = 0, 1  # the launcher's input and output, shared by each init it forks

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
NUMBERS = SYSCALLS.get(os.uname().machine, {})


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def mount(source, target, kind=None, flags=0, data=None):
    check(libc.mount(source and source.encode(), target.encode(), kind and kind.encode(), flags,
                     data and data.encode()), f"mount {source or kind} on {target}")


def bind(source, target, read_only):
    mount(source, target, None, MS_BIND | MS_REC)
    attr = MountAttr(attr_set=MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if read_only else 0))
    check(libc.syscall(NUMBERS["mount_setattr"], AT_FDCWD, target.encode(), AT_RECURSIVE, ctypes.byref(attr),
                       ctypes.sizeof(attr)), f"restrict {source}")  # every mount below it too


def give_up_privileges_for_good():
    """Once, in the launcher: nothing it starts can gain a capability by exec (an empty bounding
    set, no ambient or inheritable ones, uid 0 treated as anyone else, no new privileges). It keeps
    its own, to mount; each action's init empties them before the command starts."""
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    check(libc.prctl(PR_SET_SECUREBITS, SECURE_NOROOT_AND_LOCKS, 0, 0, 0), "securebits")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no action may read or trace a process of the launcher


def clear_capabilities():
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    check(libc.capset(header, (ctypes.c_uint32 * 6)()), "clear capabilities")


def prepare_root(setup):
    """The generic part of an action's filesystem, on a tmpfs at the set-up's mount point."""
    root = setup["mountpoint"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for target, path in setup["links"]:
        os.symlink(target, root + path)
    for path in ("/dev", "/proc", "/tmp"):
        os.mkdir(root + path)
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=0755")
    for name in DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
    for target, name in DEVICE_LINKS:
        os.symlink(target, f"{root}/dev/{name}")
    os.mkdir(f"{root}/dev/shm")
    os.mkdir(f"{root}/dev/pts")
    mount("devpts", f"{root}/dev/pts", "devpts", MS_NOSUID, "newinstance,ptmxmode=0666,mode=620")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV)
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for path in setup["system"]:
        os.makedirs(root + path, exist_ok=True)
        bind(path, root + path, read_only=True)


def enter_root(root, request):
    for source, read_only in [(path, True) for path in request["ro"]] + [(path, False) for path in request["rw"]]:
        os.makedirs(root + source, exist_ok=True)
        bind(source, root + source, read_only)
    os.chdir(root)
    check(libc.syscall(NUMBERS["pivot_root"], b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "detach the old root")


def action_init(setup):
    """PID 1 of one action's namespaces: prepare, wait for the action, run it, end everything it
    started, answer ksbuild itself. Never returns; exits 0 once it has answered."""
    request, code, message = None, NOT_STARTED, ""
    try:
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            prepare_root(setup)
        except Exception as err:  # noqa: BLE001 (the action's answer says it)
            message = f"sandbox: {err}"
        request = read_message(REQUESTS)
        if request is None:
            os._exit(INPUT_ENDED)
        if not message:
            code, message = run_command(setup["mountpoint"], request)
    except BaseException as err:  # noqa: B036 (a forked child never returns)
        message = f"sandbox: {err}"
    try:
        end_the_rest()
        if request is not None:
            write_message(REPLIES, (request["id"], code, message))
    finally:
        os._exit(0 if request is not None else NOT_STARTED)


def run_command(root, request):
    """Open the output files while the machine's paths are still in sight, enter the action's root,
    start the command (posix_spawn: this interpreter is never forked again) and wait for it."""
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644) \
        if request["stdout"] else output
    enter_root(root, request)
    clear_capabilities()
    os.chdir(request["cwd"])
    program = find_program(request["argv"][0], request["env"].get("PATH", ""))
    if program is None:
        return NOT_STARTED, f"execvp {request['argv'][0]}: No such file or directory"
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, output, 2)]
    try:
        pid = os.posix_spawn(program, request["argv"], request["env"], file_actions=actions, setsid=True)
    except OSError as err:
        return NOT_STARTED, f"execvp {request['argv'][0]}: {err.strerror}"
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return (code if code >= 0 else 128 - code), ""


def end_the_rest():
    """Kill every other process of this PID namespace and reap them all."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        return
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def find_program(name, path):
    """`name` as execvp would find it on the action's PATH."""
    if "/" in name:
        return name
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def read_message(fd):
    """The next message on `fd`, read to its last byte and never past it (the next init reads the
    next one); None at the end of the input."""
    head = read_exactly(fd, 4)
    if head is None:
        return None
    body = read_exactly(fd, struct.unpack(">I", head)[0])
    if body is None:
        raise EOFError("the input ended inside a message")
    return marshal.loads(body)


def read_exactly(fd, size):
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def write_message(fd, value):
    data = marshal.dumps(value)
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


class Init:
    """The next action's init, prepared ahead: it reads its request itself."""

    def __init__(self, setup, own_pid_namespace):
        check(libc.unshare(CLONE_NEWPID), "unshare the PID namespace")  # for the next child only
        try:
            self.pid = os.fork()
            if self.pid == 0:
                action_init(setup)
        finally:
            check(libc.setns(own_pid_namespace, CLONE_NEWPID), "setns")  # so the next init can unshare

    def wait(self):
        """Its exit status, once it has ended: 0 when it answered."""
        return os.waitpid(self.pid, 0)[1]


def main():
    if not NUMBERS:
        sys.stderr.write(f"ksbuild launcher: no system call numbers for {os.uname().machine}\n")
        return 2
    setup = read_message(REQUESTS)
    give_up_privileges_for_good()
    own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    init = Init(setup, own_pid_namespace)
    write_message(REPLIES, b"ready")
    while True:
        status = init.wait()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == INPUT_ENDED:
            return 0
        if status != 0:
            write_message(REPLIES, (-1, NOT_STARTED, "sandbox: the action's init ended without an answer "
                                                      f"(exit {os.waitstatus_to_exitcode(status)})"))
            return 1
        init = Init(setup, own_pid_namespace)


if __name__ == "__main__":
    sys.exit(main())
