"""Real doit runs in throw-away workspaces: what runs, what does not, and why."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import app_and_lib, bump_mtime, interruptible

WORKSPACE = """\
components:
  app:
    path: components/app
  lib:
    path: components/lib
"""
LIB = """\
targets:
  upper:
    rule: command
    srcs: [greeting.txt.in]
    outs: [greeting.txt]
    cmd: [sh, -c, "tr a-z A-Z < greeting.txt.in > greeting.txt"]
  twice:
    rule: copy
    srcs: [greeting.txt]
    to: [first/, second/]
"""
APP = """\
targets:
  notes:
    rule: command
    srcs: ["notes/*.md"]
    outs: [notes.txt]
    cmd: [sh, -c, "cat notes/*.md > notes.txt"]
  banner:
    rule: command
    srcs: ["//lib:twice"]
    outs: [banner.txt]
    cmd: [sh, -c, "cat ../lib/first/greeting.txt > banner.txt"]
"""
ALL = {"lib:upper", "lib:twice", "app:notes", "app:banner"}


@pytest.fixture
def ws(workspace):
    app_and_lib(workspace, WORKSPACE, LIB, APP)
    workspace.write("components/app/README.md", "not an input\n")
    return workspace


def test_fresh_build_then_noop(ws):
    result = ws.doit()
    assert ws.executed() == ALL
    assert ws.read("components/lib/greeting.txt") == "HELLO\n"
    assert ws.read("components/lib/second/greeting.txt") == "HELLO\n"
    assert ws.read("components/app/banner.txt") == "HELLO\n"
    assert set(ws.reasons().values()) == {"never built here"}
    assert result.stdout.strip().splitlines()[-1].startswith(
        "ksbuild: 4 tasks: 4 executed, 0 from cache, 0 up to date, 0 failed in ")

    again = ws.doit()
    assert ws.executed() == set()
    assert set(ws.statuses().values()) == {"up-to-date"}
    assert "4 tasks: 0 executed, 0 from cache, 4 up to date, 0 failed" in again.stdout


def test_input_edit_reruns_exactly_the_affected_tasks(ws):
    ws.doit()
    ws.write("components/lib/greeting.txt.in", "bye\n")
    ws.doit()
    assert ws.executed() == {"lib:upper", "lib:twice", "app:banner"}
    assert ws.reasons()["lib:upper"] == "input changed: components/lib/greeting.txt.in"
    assert ws.reasons()["lib:twice"] == "input changed: components/lib/greeting.txt"
    assert ws.read("components/app/banner.txt") == "BYE\n"


def test_touch_without_change_and_unrelated_edit_run_nothing(ws):
    ws.doit()
    bump_mtime(ws.root / "components/lib/greeting.txt.in")
    ws.write("components/app/README.md", "edited\n")
    ws.doit()
    assert ws.executed() == set()


def test_command_change_reruns_that_target(ws):
    ws.doit()
    ws.write("components/app/BUILD.yaml", APP.replace("cat notes/*.md > notes.txt", "cat notes/*.md notes/*.md > notes.txt"))
    ws.doit()
    assert ws.executed() == {"app:notes"}
    assert ws.reasons()["app:notes"] == "command changed"
    assert ws.read("components/app/notes.txt") == "a\na\n"


def test_glob_gaining_and_losing_a_file(ws):
    ws.doit()
    ws.write("components/app/notes/b.md", "b\n")
    ws.doit()
    assert ws.executed() == {"app:notes"}
    assert ws.reasons()["app:notes"] == "input added: components/app/notes/b.md"
    assert ws.read("components/app/notes.txt") == "a\nb\n"
    (ws.root / "components/app/notes/a.md").unlink()
    ws.doit()
    assert ws.reasons()["app:notes"] == "input removed: components/app/notes/a.md"
    assert ws.read("components/app/notes.txt") == "b\n"


def test_deleted_output_is_rebuilt_and_forced_run_says_so(ws):
    ws.doit()
    (ws.root / "components/lib/first/greeting.txt").unlink()
    ws.doit()
    assert ws.statuses()["lib:twice"] == "cache-hit"  # the same inputs as last time: restored, not run
    assert ws.reasons()["lib:twice"] == "missing output: components/lib/first/greeting.txt"
    assert ws.read("components/lib/first/greeting.txt") == "HELLO\n"
    ws.doit("-a", "app:notes")
    assert ws.reasons() == {"app:notes": "forced"}


def test_failing_action_keeps_previous_outputs_and_shows_command_and_output(ws):
    ws.doit()
    cache = Path(ws.env["KSBUILD_CACHE_DIR"])
    entries = sorted(p.name for p in (cache / "ac").rglob("*") if p.is_file())
    ws.write("components/app/BUILD.yaml", APP.replace(
        "cat notes/*.md > notes.txt", "echo partial > notes.txt; echo something broke >&2; exit 7"))
    result = ws.doit(check=False)
    assert result.returncode == 1
    assert ws.read("components/app/notes.txt") == "a\n"
    assert "Command failed with exit code 7" in result.stdout
    assert "command: sh -c 'echo partial > notes.txt; echo something broke >&2; exit 7'" in result.stdout
    assert "something broke" in result.stdout
    assert ws.statuses()["app:notes"] == "failed"
    assert not [p for p in (ws.root / "components").rglob("*") if ".ksbuild-" in p.name]
    assert sorted(p.name for p in (cache / "ac").rglob("*") if p.is_file()) == entries, "a failure is never cached"


def test_missing_declared_output_fails(ws):
    ws.write("components/app/BUILD.yaml", APP.replace("cat notes/*.md > notes.txt", "cat notes/*.md > wrong.txt"))
    result = ws.doit("app:notes", check=False)
    assert result.returncode == 1
    assert "did not produce declared output(s): components/app/notes.txt" in result.stdout
    assert not (ws.root / "components/app/notes.txt").exists()
    assert not (ws.root / "components/app/wrong.txt").exists()


def test_undeclared_input_is_not_there(ws):
    ws.write("components/app/BUILD.yaml", APP.replace("cat notes/*.md > notes.txt", "cat README.md > notes.txt"))
    result = ws.doit("app:notes", check=False)
    assert result.returncode == 1
    assert "README.md: No such file or directory" in result.stdout


def test_undeclared_outputs_are_dropped_and_reported(ws):
    ws.write("components/app/BUILD.yaml", APP.replace("cat notes/*.md > notes.txt",
                                                      "cat notes/*.md > notes.txt; echo x > stray.txt"))
    result = ws.doit("app:notes")
    assert "dropped undeclared file(s): components/app/stray.txt" in result.stderr
    assert not (ws.root / "components/app/stray.txt").exists()


def test_interrupted_action_leaves_no_partial_output(ws):
    ws.doit()
    ws.write("components/app/BUILD.yaml", APP.replace(
        "cat notes/*.md > notes.txt", "echo partial > notes.txt; touch started; sleep 60"))
    boxes = ws.root.parent / "boxes"  # where to see the command start
    boxes.mkdir()
    ws.env["KSBUILD_SANDBOX_DIR"] = str(boxes)
    process = subprocess.Popen([sys.executable, "-m", "doit", "app:notes"], cwd=ws.root, env=ws.run_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=interruptible)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(boxes.glob("ksbuild-run-*/box-*/root/components/app/started")):
        time.sleep(0.05)
    assert list(boxes.glob("ksbuild-run-*/box-*/root/components/app/started")), "the command never started"
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode != 0
    assert ws.read("components/app/notes.txt") == "a\n"
    assert not (ws.root / "components/app/started").exists()
    assert not [p for p in (ws.root / "components").rglob("*") if ".ksbuild-" in p.name]
    assert not list(boxes.iterdir()), "the run left its sandboxes"


def test_parallel_build(ws):
    for i in range(6):
        ws.write(f"components/app/notes/n{i}.md", f"{i}\n")
    boxes = ws.root.parent / "boxes"
    boxes.mkdir()
    ws.env["KSBUILD_SANDBOX_DIR"] = str(boxes)
    ws.doit("-n", "2")
    assert not list(boxes.iterdir()), "a worker left its sandboxes"
    assert ws.executed() == ALL
    assert ws.read("components/app/banner.txt") == "HELLO\n"
    ws.write("components/lib/greeting.txt.in", "again\n")
    ws.doit("-n", "2")
    assert ws.executed() == {"lib:upper", "lib:twice", "app:banner"}
    assert ws.read("components/app/banner.txt") == "AGAIN\n"


def test_list_info_clean(ws):
    listing = ws.doit("list", "--all").stdout
    for name in ["build", "generate", "graph", "app", "lib", *ALL]:
        assert any(line.split()[0] == name for line in listing.splitlines()), name
    ws.doit()
    info = ws.doit("info", "lib:upper").stdout
    assert "components/lib/greeting.txt.in" in info and "components/lib/greeting.txt" in info
    ws.doit("clean")
    assert not (ws.root / "components/lib/greeting.txt").exists()
    assert not (ws.root / "components/app/banner.txt").exists()
    assert (ws.root / "components/lib/greeting.txt.in").exists()


def test_generate_group_and_single_component(ws):
    ws.doit("lib")
    assert ws.executed() == {"lib:upper", "lib:twice"}
    ws.doit("generate")
    assert ws.executed() == {"app:notes", "app:banner"}


def test_load_error_exits_nonzero_before_running(ws):
    ws.write("components/app/BUILD.yaml", APP.replace("outs: [notes.txt]", "outs: [../notes.txt]"))
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "components/app/BUILD.yaml:5: //app:notes: outs path '../notes.txt' is absolute or leaves the component" \
        in result.stderr
    assert not (ws.root / "components/lib/greeting.txt").exists()


def test_ksbuild_command_finds_the_workspace_from_a_subdirectory(ws):
    (ws.root / "dodo.py").unlink()  # the console script works without one too
    sub = ws.root / "components/app/notes"
    ksbuild = [sys.executable, "-m", "ksbuild.cli.main"]
    result = subprocess.run([*ksbuild, "lib:upper"], cwd=sub, capture_output=True, text=True, env=ws.run_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert ws.read("components/lib/greeting.txt") == "HELLO\n"
    assert ws.executed() == {"lib:upper"}
    outside = subprocess.run(ksbuild, cwd=ws.root.parent, capture_output=True, text=True)
    assert outside.returncode == 2  # a configuration error
    assert "no workspace.yaml here or in any parent directory" in outside.stderr


def test_graph_command(ws):
    mermaid = ws.doit("graph").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert 'subgraph c_lib["lib"]' in mermaid
    assert "t_app_banner --> t_lib_twice" in mermaid
    assert "t_lib_twice --> t_lib_upper" in mermaid
    dot = ws.doit("graph", "--format", "dot").stdout
    assert dot.startswith("digraph ksbuild {")
    assert 't_app_banner -> t_lib_twice;' in dot
    assert not (ws.root / ".ksbuild/last-run.json").exists()


def test_clean_never_deletes_a_committed_derived_file(ws):
    from tests.conftest import commit_all, git

    ws.doit()
    git(ws.root, "init", "-q")
    ws.write(".gitignore", ".ksbuild/\ncomponents/app/banner.txt\n")
    commit_all(ws.root, "derived files committed, except the banner")
    result = ws.doit("clean")
    assert (ws.root / "components/lib/greeting.txt").read_text() == "HELLO\n"  # committed: kept
    assert not (ws.root / "components/app/banner.txt").exists()  # not tracked: removed
    assert "kept 1 committed derived file(s)" in result.stdout
    assert git(ws.root, "status", "--porcelain") == ""
