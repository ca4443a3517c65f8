"""The program inside a worker's run-long sandbox (exec.worker_sandbox): it runs each action it is
sent in a view of the action's own. Standard library only: it runs as `python3 -I -S`.

It starts inside one bubblewrap: a user namespace in which it holds every capability, no network,
the machine's files at their own paths. It forks one init for all the actions: PID 1 of a PID
namespace of its own, in mount, IPC and UTS namespaces of its own, which builds the actions'
filesystem once on an empty tmpfs (the system directories read-only, a private /dev holding only
the harmless devices, a /proc of its PID namespace), pivots into it, detaches the machine's tree
(keeping only a descriptor of it, to reach the paths it binds) and makes the root and /dev
read-only. Each action then gets, from the same init:

- a fresh tmpfs on /tmp and on /dev/shm, and a fresh IPC namespace (made after the last action's
  answer, so while ksbuild records it);
- the directories it asks for, bound at their own paths (read-only unless asked otherwise; never a
  device or set-user-ID file), and only those: the last action's are unmounted, and the
  directories made to hold them removed;
- its command, started with no capability and no way to gain one (the launcher's bounding set is
  empty and its securebits locked: an exec gains nothing);
- when the command ends, every process it left behind killed and reaped before the init answers:
  no leftover can touch the outputs or the next action.

So an action costs a few mounts, not a fork of this interpreter and a namespace built and torn down
(which, on a machine of two cores, cost more than the command itself).

Protocol on stdin/stdout, each message a 4-byte big-endian length and a marshal'd value. First
the set-up {mountpoint, system, links}; the launcher answers b"ready" once the init runs. Then
requests {id, argv, env, cwd, ro, rw, stdout, output}, one at a time (ro and rw: pairs of the path
the action sees and its real path on the machine; stdout and output: real paths): the init reads each from
the launcher's input itself and answers (id, exit code, message) on its output; the message says
why the command never started (exit code 127), "sandbox: ..." when the sandbox itself failed, after
which the init ends. An init that ends without answering (killed) gets an answer from the
launcher, (-1, 127, why), and the launcher ends: a request or an answer may have been cut in half.
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
SYSCALLS = {"x86_64": {"pivot_root": 155, "open_tree": 428, "mount_setattr": 442},
            "aarch64": {"pivot_root": 41, "open_tree": 428, "mount_setattr": 442}}
OPEN_TREE_CLONE = 1
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = (("/proc/kcore", "core"), ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"))
NOT_STARTED = 127
INPUT_ENDED = 3  # the init's exit status when ksbuild closed the launcher's input: the launcher ends
REQUESTS, REPLIES = 0, 1  # the launcher's input and output, shared with the init
SCRATCH = ("/tmp", "/dev/shm")  # a fresh tmpfs each, for each action

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


def bind(source, target, read_only, shown=None):
    mount(source, target, None, MS_BIND | MS_REC)
    set_attributes(target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if read_only else 0), 0,
                   AT_RECURSIVE, f"restrict {shown or source}")  # every mount below it too


def set_attributes(path, attr_set, attr_clear, flags, what):
    attr = MountAttr(attr_set=attr_set, attr_clr=attr_clear)
    check(libc.syscall(NUMBERS["mount_setattr"], AT_FDCWD, path.encode(), flags, ctypes.byref(attr),
                       ctypes.sizeof(attr)), what)


def read_only(path, yes=True):
    """That one mount (not those below it) read-only, or writable again."""
    set_attributes(path, MOUNT_ATTR_RDONLY if yes else 0, 0 if yes else MOUNT_ATTR_RDONLY, 0,
                   f"make {path} {'read-only' if yes else 'writable'}")


def give_up_privileges_for_good():
    """Once, in the launcher: nothing it starts can gain a capability by exec (an empty bounding
    set, no ambient or inheritable ones, uid 0 treated as anyone else, no new privileges). It keeps
    its own, and so does the init (to mount); a command it starts has none."""
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header, sets = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0), (ctypes.c_uint32 * 6)()
    check(libc.capget(header, sets), "read capabilities")
    sets[2] = sets[5] = 0  # (effective, permitted, inheritable) x 2: nothing to inherit
    check(libc.capset(header, sets), "clear inheritable capabilities")
    check(libc.prctl(PR_SET_SECUREBITS, SECURE_NOROOT_AND_LOCKS, 0, 0, 0), "securebits")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no action may trace the init, or reach its copy of the machine's tree


def prepare_root(setup):
    """The actions' filesystem, built once on a tmpfs at the set-up's mount point."""
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
    for path in setup["system"]:
        os.makedirs(root + path, exist_ok=True)
        bind(path, root + path, read_only=True)


class Init:
    """The one init of the sandbox (PID 1 of its namespaces), and the view it gives each action."""

    def __init__(self, setup):
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        self.machine = libc.syscall(NUMBERS["open_tree"], AT_FDCWD, b"/", OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC)
        check(0 if self.machine >= 0 else -1, "open_tree")  # a copy of the machine's tree, out of the actions' sight
        prepare_root(setup)
        os.chdir(setup["mountpoint"])
        check(libc.syscall(NUMBERS["pivot_root"], b".", b"."), "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "detach the machine's tree")
        os.chdir("/")
        read_only("/")
        read_only("/dev")
        self.bound = []  # the current action's directories, in the order they were bound
        self.made = []  # directories made on the root to hold them, in the order they were made
        self.fresh_scratch()

    def run(self, request):
        """Bind the action's directories, start its command, wait for it: (exit code, message)."""
        try:
            output = self.open_outside(request["output"], 0o600)
            stdout = self.open_outside(request["stdout"], 0o644) if request["stdout"] else output
            for (seen, real), frozen in [(pair, True) for pair in request["ro"]] + [(pair, False) for pair in request["rw"]]:
                self.make_mount_point(seen)
                bind(f"/proc/self/fd/{self.machine}{real}", seen, frozen, shown=seen)
                self.bound.append(seen)
            os.chdir(request["cwd"])
        except OSError as err:
            return NOT_STARTED, f"sandbox: {err}"
        try:
            program = find_program(request["argv"][0], request["env"].get("PATH", ""))
            if program is None:
                return NOT_STARTED, f"execvp {request['argv'][0]}: No such file or directory"
            actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                       (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, output, 2)]
            try:
                pid = os.posix_spawn(program, request["argv"], request["env"], file_actions=actions, setsid=True)
            except OSError as err:
                return NOT_STARTED, f"execvp {request['argv'][0]}: {err.strerror}"
        finally:
            os.close(output)
            if stdout != output:
                os.close(stdout)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        return (code if code >= 0 else 128 - code), ""

    def open_outside(self, path, mode):
        """A file of the machine's, by its real path (a link in it would lead into the actions' view)."""
        return os.open(path.lstrip("/"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode,
                       dir_fd=self.machine)

    def make_mount_point(self, path):
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for directory in reversed(missing):
            if directory.startswith(tuple(place + "/" for place in SCRATCH)):
                os.mkdir(directory)  # goes with its tmpfs
                continue
            read_only("/", False)  # on the root itself: made now, removed after the action
            try:
                os.mkdir(directory)
            finally:
                read_only("/")
            self.made.append(directory)

    def clean_up(self):
        """Undo the last action's view: its directories, what was made for them, its scratch."""
        os.chdir("/")
        for path in reversed(self.bound):
            check(libc.umount2(path.encode(), MNT_DETACH), f"unmount {path}")
        self.bound = []
        if self.made:
            read_only("/", False)
            try:
                for directory in reversed(self.made):
                    os.rmdir(directory)
            finally:
                read_only("/")
            self.made = []
        self.fresh_scratch()

    def fresh_scratch(self):
        """Empty /tmp and /dev/shm, and IPC objects of nobody's, for the next action."""
        for path in SCRATCH:
            libc.umount2(path.encode(), MNT_DETACH)  # the last action's (none before the first)
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
        check(libc.unshare(CLONE_NEWIPC), "a fresh IPC namespace")


def init_main(setup):
    """PID 1 of the actions' namespaces: for each request, run it, end everything it started,
    answer ksbuild itself, and clean up for the next. Never returns."""
    broken = ""
    try:
        init = Init(setup)
    except Exception as err:  # noqa: BLE001 (the first action's answer says it: ksbuild then does without)
        broken = f"sandbox: {err}"
    while True:
        try:
            request = read_message(REQUESTS)
        except Exception:  # noqa: BLE001 (cut in half: ksbuild is gone)
            os._exit(NOT_STARTED)
        if request is None:
            os._exit(INPUT_ENDED)
        code, message = NOT_STARTED, broken
        if not broken:
            try:
                code, message = init.run(request)
            except Exception as err:  # noqa: BLE001
                code, message = NOT_STARTED, f"sandbox failed during the command: {err}"
        end_the_rest()
        write_message(REPLIES, (request["id"], code, message))
        if message.startswith("sandbox"):
            os._exit(NOT_STARTED)  # ksbuild starts another
        try:
            init.clean_up()
        except Exception:  # noqa: BLE001 (the launcher answers the next request: ksbuild starts another)
            os._exit(NOT_STARTED)


def end_the_rest():
    """Kill every other process of this PID namespace and reap them all (a zombie can be signalled:
    the loop ends when nothing is left)."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


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


def main():
    if not NUMBERS:
        sys.stderr.write(f"ksbuild launcher: no system call numbers for {os.uname().machine}\n")
        return 2
    setup = read_message(REQUESTS)
    give_up_privileges_for_good()
    check(libc.unshare(CLONE_NEWPID), "unshare the PID namespace")  # the init's
    pid = os.fork()
    if pid == 0:
        init_main(setup)
    write_message(REPLIES, b"ready")
    status = os.waitpid(pid, 0)[1]
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == INPUT_ENDED:
        return 0
    write_message(REPLIES, (-1, NOT_STARTED, "sandbox: the actions' init ended "
                                             f"(exit {os.waitstatus_to_exitcode(status)})"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
