"""The no-op fast path (ksbuild.fastpath) agrees with the normal path: it answers only when nothing
changed, and after every kind of change it is not taken and the run does what the normal path does."""
from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys

import pytest

from tests.conftest import app_and_lib, bump_mtime, commit_all, git
from tests.integration.test_doit_runs import APP, LIB

WORKSPACE = """\
components:
  app:
    path: components/app
    tags: app/v*
  lib:
    path: components/lib
tools:
  greeter:
    package: example.com/cmd/greeter
    version: v1.0.0
"""
GREETED = """\
  greeted:
    rule: command
    srcs: [greeting.txt.in]
    outs: [greeted.txt]
    tools: [greeter]
    cmd: [sh, -c, "greeter < greeting.txt.in > greeted.txt"]
"""
ARTIFACTS = """\
artifacts:
  app:
    kind: image
    repository: ghcr.io/example/app
references:
  - file: deploy.yaml
    regex: 'image: (?P<value>\\S+)'
    artifact: ":app"
    form: image
    policy: stamp
"""


def fake_tool(ws, text: str) -> None:
    """The pinned `greeter`, installed in the test's own tool store (a script saying `text`)."""
    from ksbuild.loader.workspace import load_workspace
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import go_env

    os.environ["KSBUILD_TOOLS_DIR"] = ws.env["KSBUILD_TOOLS_DIR"]
    try:
        pin = load_workspace(str(ws.root)).tool("greeter")
        binary = store.binary_path(pin, go_env(pin.go))
    finally:
        del os.environ["KSBUILD_TOOLS_DIR"]
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    with open(binary, "w") as handle:
        handle.write(f"#!/bin/sh\necho {text}\n")
    os.chmod(binary, 0o755)
    with open(binary + ".sha256", "w") as handle:
        handle.write(text.encode().hex().ljust(64, "0")[:64])


@pytest.fixture
def ws(workspace, tmp_path):
    workspace.env["KSBUILD_TOOLS_DIR"] = str(tmp_path / "tools")
    workspace.env["KSBUILD_EXPLAIN_NOOP"] = "1"
    app_and_lib(workspace, WORKSPACE, LIB + GREETED, APP + ARTIFACTS)
    workspace.write("components/app/deploy.yaml", "image: ghcr.io/example/app:KSBUILD_VERSION\n")
    workspace.write(".gitignore", ".ksbuild/\n")
    fake_tool(workspace, "hi")
    git(workspace.root, "init", "-q")
    commit_all(workspace.root, "workspace")
    return workspace


def run(ws, *args) -> tuple[bool, set[str]]:
    """(answered by the fast path, what executed)."""
    result = subprocess.run([sys.executable, "-m", "ksbuild.cli.main", *args], cwd=ws.root, capture_output=True,
                            text=True, env=ws.run_env(), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(ws.read(".ksbuild/last-run.json"))
    executed = {t["task"] for t in record["tasks"] if t["status"] in ("executed", "cache-hit")}
    return bool(record.get("fast_path")), executed


EVERY_TARGET = {"lib:upper", "lib:twice", "lib:greeted", "app:notes", "app:banner", "app:stamped"}


def test_the_fast_path_answers_only_when_nothing_changed(ws):
    assert run(ws) == (False, EVERY_TARGET)
    assert ws.read("components/lib/greeted.txt") == "hi\n"
    assert run(ws) == (True, set())
    assert "doit" not in subprocess.run(  # the fast path imports neither doit nor the graph
        [sys.executable, "-X", "importtime", "-m", "ksbuild.cli.main"], cwd=ws.root, capture_output=True, text=True,
        env=ws.run_env()).stderr

    changes = {
        "input edited": (lambda: ws.write("components/lib/greeting.txt.in", "bye\n"),
                         {"lib:upper", "lib:twice", "lib:greeted", "app:banner"}),
        "output edited": (lambda: ws.write("components/lib/greeting.txt", "BYE, by hand\n"),
                          {"lib:upper"}),
        "glob gains a file": (lambda: ws.write("components/app/notes/b.md", "b\n"), {"app:notes"}),
        "tool bumped": (lambda: fake_tool(ws, "hello"), {"lib:greeted"}),
        "BUILD.yaml edited": (lambda: ws.write("components/app/BUILD.yaml", (APP + ARTIFACTS).replace(
            "cat notes/*.md", "cat notes/*.md notes/*.md")), {"app:notes", "app:stamped"}),  # now .dirty
        "tag added": (lambda: git(ws.root, "tag", "app/v1.0.0"), {"app:stamped"}),
        "same size, same second": (lambda: ws.write("components/app/notes/b.md", "c\n"), {"app:notes"}),
    }
    for name, (change, expected) in changes.items():
        change()
        fast, executed = run(ws)
        assert not fast, f"{name}: the fast path was taken"
        assert executed == expected, f"{name}: {executed}"
        record = json.loads(ws.read(".ksbuild/last-run.json"))  # the targets left out of doit's work too
        assert sorted(t["task"] for t in record["tasks"]) == sorted(EVERY_TARGET), name
        assert record["summary"].startswith(f"ksbuild: {len(EVERY_TARGET)} tasks: "), record["summary"]
        assert run(ws) == (True, set()), f"{name}: the next no-op is not fast"
    # a BUILD file that plans as before: answered without doit, then fast again
    ws.write("components/lib/BUILD.yaml", ws.read("components/lib/BUILD.yaml") + "# a note\n")
    assert run(ws) == (True, set())
    assert run(ws) == (True, set())
    ws.write("components/lib/BUILD.yaml", ws.read("components/lib/BUILD.yaml").replace("# a note\n", ""))
    assert run(ws) == (True, set())
    assert ws.read("components/lib/greeted.txt") == "hello\n"
    # the tag is the last release; the BUILD.yaml edit is uncommitted: the version says both
    assert ws.read(".ksbuild/out/app/deploy.yaml").startswith("image: ghcr.io/example/app:1.0.1-dev.0.g")


def test_parallel_workers_get_only_what_may_have_changed(ws):
    assert run(ws, "-n", "2") == (False, EVERY_TARGET)
    assert run(ws, "-n", "2") == (True, set())
    ws.write("components/app/notes/b.md", "b\n")
    assert run(ws, "-n", "2") == (False, {"app:notes"})
    record = json.loads(ws.read(".ksbuild/last-run.json"))
    assert sorted(t["task"] for t in record["tasks"]) == sorted(EVERY_TARGET)
    assert record["counts"] == {"executed": 1, "cache-hit": 0, "up-to-date": 5, "failed": 0}
    assert run(ws, "-n", "2") == (True, set())


def test_another_command_line_or_a_touched_file_takes_the_normal_path(ws):
    run(ws)
    assert run(ws, "lib:upper") == (False, set())  # its own snapshot, written now
    assert run(ws, "lib:upper") == (True, set())
    bump_mtime(ws.root / "components/lib/greeting.txt.in")  # same content: checked, nothing runs
    assert run(ws) == (False, set())
    (ws.root / ".ksbuild/noop.snapshot").write_bytes(b"garbage")
    assert run(ws) == (False, set())
    forge = ("import marshal, os; from ksbuild.fastpath import _key; root = os.getcwd(); "
             "open('.ksbuild/noop.snapshot', 'wb').write(marshal.dumps({'key': _key(root, root, []), "
             "'entries': [('x',)], 'tasks': 'many', 'noop': 1}))")  # the right key, and nonsense
    subprocess.run([sys.executable, "-c", forge], cwd=ws.root, env=ws.run_env(), check=True)
    assert run(ws) == (False, set())
    assert run(ws) == (True, set())
    # the per-target half replaced by another run's (or by nonsense): nothing is left out, and the run is right
    (ws.root / ".ksbuild/noop.targets").write_bytes(marshal.dumps({"generation": "x", "targets": {"a": 1}}))
    ws.write("components/lib/greeting.txt.in", "changed again\n")
    assert run(ws) == (False, {"lib:upper", "lib:twice", "lib:greeted", "app:banner"})
    assert len(json.loads(ws.read(".ksbuild/last-run.json"))["tasks"]) == len(EVERY_TARGET)
