"""Actions that try to leave their sandbox, run under bubblewrap: each attack fails, and nothing
outside the execution root changes. Also: killing ksbuild kills its actions, and where bubblewrap
is not used every run says so and keeps its outputs out of a shared cache."""
from __future__ import annotations

import os
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


def one_target(ws: Workspace, cmd: str, srcs=("in.txt",)) -> None:
    ws.write("workspace.yaml", "components:\n  app:\n    path: app\n")
    ws.write("app/in.txt", "declared\n")
    ws.write("app/BUILD.yaml", f"""\
        targets:
          attack:
            rule: command
            srcs: [{', '.join(srcs)}]
            outs: [out.txt]
            cmd: [sh, -c, {cmd!r}]
        """)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file next to the workspace that no action declares: what an attacker wants to read."""
    path = tmp_path / "outside" / "undeclared.txt"
    path.parent.mkdir()
    path.write_text("not yours\n")
    return path


def test_an_undeclared_file_read_by_absolute_path_is_not_there(workspace, outside):
    one_target(workspace, f"cat {outside} > out.txt")
    result = workspace.doit(check=False)
    assert result.returncode != 0
    assert "No such file or directory" in result.stdout + result.stderr
    assert not (workspace.root / "app/out.txt").exists()


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
