"""Actions that try to leave their sandbox, run under bubblewrap: each attack fails, and nothing
outside the execution root changes. Also: killing ksbuild kills its actions, and where bubblewrap
is not used every run says so and keeps its outputs out of a shared cache."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Workspace, commit_all, git

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs Debian's bubblewrap")]

SECRET = "s3cr3t-cache-credential"


def one_target(ws: Workspace, cmd: str, srcs=("in.txt",), more: str = "") -> None:
    ws.write("workspace.yaml", "components:\n  app:\n    path: app\n")
    ws.write("app/in.txt", "declared\n")
    ws.write("app/BUILD.yaml", f"""\
        targets:
          attack:
            rule: command
            srcs: [{', '.join(srcs)}]
            outs: [out.txt]
            cmd: [sh, -c, {cmd!r}]
        """ + (f"    {more}\n" if more else ""))


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file next to the workspace that no action declares: what an attacker wants to read."""
    path = tmp_path / "outside" / "undeclared.txt"
    path.parent.mkdir()
    path.write_text("not yours\n")
    return path


def refused(workspace: Workspace, cmd: str, message: str) -> None:
    """The action fails, saying `message`, and its output never reaches the workspace."""
    one_target(workspace, cmd)
    result = workspace.doit(check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (workspace.root / "app/out.txt").exists()


def test_an_undeclared_file_read_by_absolute_path_is_not_there(workspace, outside):
    refused(workspace, f"cat {outside} > out.txt", "No such file or directory")


def test_the_home_directory_and_other_parts_of_the_workspace_are_not_there(workspace, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/id_ed25519").write_text("PRIVATE KEY\n")
    workspace.env["HOME"] = str(home)  # the user running ksbuild
    workspace.write("app/private/key", "not declared\n")
    one_target(workspace, f"cat {home}/.ssh/id_ed25519 {Path.home()}/.bashrc {workspace.root}/app/private/key "
                          "> out.txt; true")
    workspace.doit()
    assert workspace.read("app/out.txt") == ""


def test_the_callers_environment_is_out_of_reach(workspace):
    one_target(workspace, "cat /proc/$PPID/environ /proc/1/environ > out.txt 2>/dev/null; env >> out.txt; true")
    workspace.env["KSBUILD_REMOTE_CACHE_AUTH"] = SECRET
    workspace.doit()
    seen = (workspace.root / "app/out.txt").read_bytes()
    assert SECRET.encode() not in seen
    assert b"KSBUILD" not in seen


def test_the_network_is_not_there(workspace):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        workspace.write("app/probe.py", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\n")
        one_target(workspace, "/usr/bin/python3 probe.py && echo connected > out.txt", srcs=("in.txt", "probe.py"))
        result = workspace.doit(check=False)
    finally:
        server.close()
    assert result.returncode != 0
    assert "Network is unreachable" in result.stdout + result.stderr or "refused" in result.stdout + result.stderr


def test_writing_into_the_source_tree_changes_nothing_there(workspace):
    one_target(workspace, "echo pwned > {root}/app/in.txt; echo pwned > {root}/app/new.txt; echo ok > out.txt")
    build = workspace.root / "app/BUILD.yaml"
    build.write_text(build.read_text().replace("{root}", str(workspace.root)))
    workspace.doit(check=False)
    assert workspace.read("app/in.txt") == "declared\n"
    assert not (workspace.root / "app/new.txt").exists()


def test_an_undeclared_read_can_never_be_a_stale_cache_hit(workspace, outside):
    """The read fails, so no output depends on an input outside the action key."""
    one_target(workspace, f"cat in.txt {outside} > out.txt")
    assert workspace.doit(check=False).returncode != 0
    outside.write_text("changed\n")
    assert workspace.doit(check=False).returncode != 0
    assert not (workspace.root / "app/out.txt").exists()


def test_verify_of_a_hostile_commit_touches_nothing_outside_its_scratch_copy(workspace, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    one_target(workspace, f"echo appended >> {victim}; echo appended >> {{root}}/app/in.txt; cp in.txt out.txt")
    build = workspace.root / "app/BUILD.yaml"
    build.write_text(build.read_text().replace("{root}", str(workspace.root)))
    workspace.write("app/out.txt", "declared\n")
    workspace.write(".gitignore", ".ksbuild/\n")
    git(workspace.root, "init", "-q")
    commit_all(workspace.root, "a hostile commit")
    before = {p: p.read_bytes() for p in workspace.root.rglob("*") if p.is_file() and ".ksbuild" not in p.parts}
    workspace.doit("verify", check=False)
    assert victim.read_text() == "precious\n"
    after = {p: p.read_bytes() for p in workspace.root.rglob("*") if p.is_file() and ".ksbuild" not in p.parts}
    assert after == before


def test_killing_ksbuild_kills_its_action(workspace, tmp_path):
    marker = f"ksbuild-kill-test-{os.getpid()}-{time.monotonic_ns()}"
    one_target(workspace, f"sleep 60 && echo {marker} > out.txt")
    process = subprocess.Popen([sys.executable, "-m", "doit"], cwd=workspace.root, env=workspace.run_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _running(marker):
            time.sleep(0.2)
        assert _running(marker), "the action never started"
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(marker):
            time.sleep(0.2)
        assert not _running(marker), "the action outlived ksbuild"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _running(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


def test_without_bubblewrap_every_run_says_so_and_nothing_reaches_a_shared_cache(workspace, tmp_path):
    one_target(workspace, "cp in.txt out.txt")
    shared = tmp_path / "shared-cache"
    workspace.env.update(KSBUILD_SANDBOX="copy", KSBUILD_REMOTE_CACHE=shared.as_uri(), KSBUILD_REMOTE_CACHE_MODE="rw")
    result = workspace.doit()
    assert "actions run in a copy sandbox that does not isolate them (not hermetic" in result.stderr
    assert not any(p.is_file() for p in shared.rglob("*")), "a copy sandbox's output reached the shared cache"
    workspace.env["KSBUILD_SANDBOX"] = "bwrap"
    (workspace.root / "app/out.txt").unlink()
    workspace.doit()
    assert workspace.statuses()["app:attack"] == "executed"  # the sandbox mode is part of the action key
    assert any(p.is_file() for p in shared.rglob("*"))


def test_an_action_sees_only_its_inputs_tools_and_the_system(workspace):
    one_target(workspace, "ls / > out.txt; ls . >> out.txt")
    workspace.write(".ksbuild-not-an-input", "x")
    workspace.doit()
    listing = workspace.read("app/out.txt").split()
    assert "root" not in listing and "home" not in listing and "work" not in listing and "etc" not in listing
    assert "in.txt" in listing and "BUILD.yaml" not in listing


def test_an_output_that_is_a_link_to_a_file_outside_is_refused_and_nothing_is_copied(workspace, outside):
    """The link is made inside the sandbox, but the commit happens outside it: never follow it."""
    refused(workspace, f"ln -s {outside} out.txt", "out.txt (a symbolic link)")


@pytest.mark.parametrize("run_long", ["1", "0"])
def test_an_action_holds_no_capability_even_when_ksbuild_runs_as_root(workspace, run_long):
    """In the run-long sandbox (exec.launcher) and in a bubblewrap of its own (KSBUILD_RUN_LONG_SANDBOX=0)."""
    one_target(workspace, "grep ^Cap /proc/self/status > out.txt; grep ^NoNewPrivs /proc/self/status >> out.txt")
    workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = run_long
    workspace.doit()
    status = dict(line.split(":\t") for line in workspace.read("app/out.txt").splitlines())
    for name in ("CapInh", "CapPrm", "CapEff", "CapAmb") + (("CapBnd",) if run_long == "1" else ()):
        assert status[name] == "0000000000000000", (name, status)
    if run_long == "1":
        assert status["NoNewPrivs"] == "1"


TWO_ACTIONS = """\
targets:
  first:
    rule: command
    srcs: [in.txt]
    outs: [first.txt]
    cmd: [sh, -c, "{first}"]
  second:
    rule: command
    srcs: [first.txt]
    outs: [second.txt]
    cmd: [sh, -c, "{second}"]
"""
LEAVE = "echo left > /tmp/left; echo left > /dev/shm/left; (sh -c 'sleep 30; true' {marker} &); ps -e -o pid,comm > first.txt"
LOOK = "ls /tmp /dev/shm > second.txt; ps -e -o pid,comm >> second.txt"


def test_an_action_leaves_nothing_behind_for_the_next_one(workspace):
    """What an action starts ends with it, and its /tmp and /dev/shm are its own: the next action
    (in the same run-long sandbox) sees none of it."""
    marker = f"ksbuild-leftover-{os.getpid()}-{time.monotonic_ns()}"
    workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = "1"
    one_target(workspace, "true")
    workspace.write("app/BUILD.yaml", TWO_ACTIONS.format(first=LEAVE.format(marker=marker), second=LOOK))
    workspace.doit()
    seen = workspace.read("app/second.txt")
    assert "left" not in seen and "sleep" not in seen
    assert not _running(marker), "a process the action started outlived it"


def test_a_run_long_sandbox_that_dies_fails_its_action_clearly_and_the_next_one_starts_anew(tmp_path, monkeypatch):
    from ksbuild.exec import worker_sandbox
    from ksbuild.exec.isolation import _system_parts

    monkeypatch.setenv("KSBUILD_RUN_LONG_SANDBOX", "1")
    worker_sandbox.stop()
    sandbox = worker_sandbox.current(*_system_parts(), str(tmp_path))
    assert sandbox is not None, worker_sandbox._unavailable
    os.killpg(sandbox.process.pid, signal.SIGKILL)
    with pytest.raises(worker_sandbox.SandboxLost, match="the run-long sandbox stopped"):
        sandbox.run(["true"], {"PATH": "/usr/bin"}, "/", [], [], "", str(tmp_path / "output"))
    assert not list(tmp_path.glob("launcher-*"))
    again = worker_sandbox.current(*_system_parts(), str(tmp_path))
    assert again is not None and again is not sandbox
    assert again.run(["sh", "-c", "exit 3"], {"PATH": "/usr/bin"}, "/", [], [], "", str(tmp_path / "output")) == (3, "")
    assert again.run(["no-such-program"], {"PATH": "/usr/bin"}, "/", [], [], "", str(tmp_path / "output")) == \
        (127, "execvp no-such-program: No such file or directory")
    worker_sandbox.stop()
    assert not list(tmp_path.glob("launcher-*"))


def test_a_run_long_sandbox_that_cannot_run_an_action_says_why(tmp_path, monkeypatch):
    """Its first action is a probe: a step the kernel refuses is found at the start, and named."""
    from ksbuild.exec import worker_sandbox

    monkeypatch.setenv("KSBUILD_RUN_LONG_SANDBOX", "1")
    worker_sandbox.stop()
    monkeypatch.setattr(worker_sandbox, "_unavailable", "")
    with pytest.raises(worker_sandbox.SandboxLost, match=r"cannot run an action here \(sandbox: .*/no-such-dir"):
        worker_sandbox.current([str(tmp_path / "no-such-dir")], [], str(tmp_path))
    assert not list(tmp_path.glob("launcher-*"))


def test_both_sandboxes_give_an_action_the_same_view(workspace):
    """Their outputs share action keys (the sandbox mode in the key is `bwrap` for both)."""
    listing = "ls -a / /dev /tmp .. $HOME $TMPDIR > out.txt; id -u >> out.txt"
    seen = {}
    for run_long in ("1", "0"):
        one_target(workspace, listing)
        workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = run_long
        workspace.env["KSBUILD_CACHE_DIR"] = str(workspace.root.parent / f"cache-{run_long}")
        (workspace.root / "app/out.txt").unlink(missing_ok=True)
        workspace.doit()
        seen[run_long] = re.sub(r"ksbuild-run-[a-z0-9_]{8}/box-[a-z0-9_]{8}", "BOX", workspace.read("app/out.txt"))
    assert seen["1"] == seen["0"]


@pytest.mark.parametrize("run_long", ["1", "0"])
def test_an_action_cannot_reach_the_machine_through_its_sandboxs_processes(workspace, outside, run_long):
    """The run-long sandbox's init keeps a copy of the machine's tree to bind from: out of reach."""
    one_target(workspace, f"for p in /proc/1/fd/* /proc/1/root /proc/1/cwd /proc/*/root; do cat $p{outside}; "
                          f"ls $p/; done > out.txt 2>&1; true")
    workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = run_long
    workspace.doit()
    seen = workspace.read("app/out.txt")
    assert "not yours" not in seen, seen
    if run_long == "1":  # the init's descriptors and root: refused, not merely elsewhere
        assert "cat: /proc/1/root/" in seen and "Permission denied" in seen.split("cat: /proc/1/root/")[1].split("\n")[0]


WRITES = ("for place in / /dev /dev/shm /tmp $HOME $TMPDIR .; do touch $place/x 2>/dev/null "
          "&& echo $place writable || echo $place read-only; done > {out}; ipcmk -M 4096 >/dev/null; "
          "ipcs -m | grep -c 4096 >> {out}")


def test_the_root_and_dev_are_read_only_and_the_scratch_places_fresh_in_both_sandboxes(workspace):
    """Each action of the run-long sandbox sees what a bubblewrap of its own shows: the root and
    /dev read-only; /tmp, /dev/shm, its home, its temporary directory and its execution root
    writable; nothing the last action wrote, none of its System V IPC objects."""
    seen = {}
    for run_long in ("1", "0"):
        workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = run_long
        workspace.env["KSBUILD_CACHE_DIR"] = str(workspace.root.parent / f"cache-{run_long}")
        one_target(workspace, "true")
        workspace.write("app/BUILD.yaml", TWO_ACTIONS.format(first=WRITES.format(out="first.txt"),
                                                         second=WRITES.format(out="second.txt")))
        for name in ("first.txt", "second.txt"):
            (workspace.root / "app" / name).unlink(missing_ok=True)
        workspace.doit()  # one process: one run-long sandbox for both actions
        for name in ("first.txt", "second.txt"):
            seen[run_long, name] = re.sub(r"ksbuild-run-[a-z0-9_]{8}/box-[a-z0-9_]{8}", "BOX",
                                          workspace.read(f"app/{name}"))
    assert seen["1", "second.txt"].splitlines() == [
        "/ read-only", "/dev read-only", "/dev/shm writable", "/tmp writable", "/dev/shm/BOX/home writable",
        "/dev/shm/BOX/tmp writable", ". writable", "1"] or "/tmp/BOX" in seen["1", "second.txt"]
    assert len(set(seen.values())) == 1, seen


def test_a_run_long_sandbox_failing_before_a_command_leaves_the_action_to_a_bubblewrap(workspace, monkeypatch):
    """A directory the init cannot bind (here: one that vanished): the action runs all the same, in a
    bubblewrap of its own; after a few such failures the process stops trying the run-long sandbox."""
    from ksbuild.exec import isolation, worker_sandbox

    workspace.env.pop("KSBUILD_RUN_LONG_SANDBOX", None)
    monkeypatch.delenv("KSBUILD_RUN_LONG_SANDBOX", raising=False)
    worker_sandbox.stop()
    monkeypatch.setattr(worker_sandbox, "_unavailable", "")
    monkeypatch.setattr(worker_sandbox, "_failures", 0)
    real = isolation._with_real
    monkeypatch.setattr(isolation, "_with_real", lambda paths, box: real(paths, box) + [("/gone", "/no/such/directory")])
    from ksbuild.exec.sandbox import make_sandbox
    from ksbuild.exec.pending import Pending
    from ksbuild.model import ActionSpec

    (workspace.root / "in.txt").write_text("in\n")
    action = ActionSpec(mnemonic="Cat", description="cat", argv=("sh", "-c", "cat in.txt > out.txt"),
                        inputs=(("in.txt", "in.txt"),), outputs=(("out.txt", "out.txt"),))
    for attempt in range(40):  # the sandbox starts in the background: an action before it is up gets a bubblewrap
        box = make_sandbox(action, Pending(str(workspace.root)))
        assert isolation.run(action.argv, box, action, box.environment(action)) == (0, "")
        assert open(box.path("out.txt")).read() == "in\n"
        if worker_sandbox._unavailable:
            break
        time.sleep(0.2)
    assert worker_sandbox._failures == worker_sandbox.MAX_FAILURES
    assert "failed 3 times (sandbox: " in worker_sandbox._unavailable and "/gone" in worker_sandbox._unavailable
    assert worker_sandbox.current(*isolation._system_parts(), "/tmp") is None
    worker_sandbox.stop()


def test_a_sandbox_directory_reached_through_a_link_works_in_the_run_long_sandbox(workspace, tmp_path):
    """The init binds from a copy of the machine's tree, where an absolute link would lead into the
    action's view: ksbuild hands it real paths."""
    (tmp_path / "real-boxes").mkdir()
    (tmp_path / "boxes").symlink_to(tmp_path / "real-boxes")
    workspace.env["KSBUILD_SANDBOX_DIR"] = str(tmp_path / "boxes")
    workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = "1"
    one_target(workspace, "cat in.txt > out.txt; pwd >> out.txt")
    workspace.doit()
    assert workspace.read("app/out.txt").startswith(f"declared\n{tmp_path / 'real-boxes'}/ksbuild-run-")


@pytest.mark.parametrize("run_long", ["1", "0"])
def test_a_relative_path_entry_binds_nothing(workspace, run_long):
    """`env: {PATH: ...}` in a BUILD file may name a directory of the execution root: it is there."""
    one_target(workspace, "cat in.txt > out.txt", more='env: {PATH: "bin:.:/usr/bin:/bin"}')
    workspace.env["KSBUILD_RUN_LONG_SANDBOX"] = run_long
    workspace.doit()
    assert workspace.read("app/out.txt") == "declared\n"
