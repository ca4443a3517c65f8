"""Pinned tools installed with the real `go install`, from a Go module proxy on disk."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from tests.goproxy import make_proxy, proxy_env

WORKSPACE = """\
components:
  app:
    path: app
tools:
  greet:
    package: example.test/greet
    version: {version}
"""
BUILD = """\
targets:
  greeting:
    rule: command
    tools: [greet]
    outs: [greeting.txt]
    cmd: [sh, -c, "greet > greeting.txt"]
  plain:
    rule: command
    outs: [plain.txt]
    cmd: [sh, -c, "echo plain > plain.txt"]
"""

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")


@pytest.fixture
def ws(workspace, tmp_path):
    workspace.env.update(proxy_env(make_proxy(tmp_path), tmp_path))
    workspace.write("workspace.yaml", WORKSPACE.format(version="v1.0.0"))
    workspace.write("app/BUILD.yaml", BUILD)
    return workspace


def test_install_use_list_and_bump(ws, tmp_path):
    ws.doit()
    assert ws.read("app/greeting.txt") == "greetings from v1.0.0\n"
    assert ws.executed() == {"app:greeting", "app:plain"}

    listing = ws.doit("tools").stdout
    row = next(line for line in listing.splitlines() if line.startswith("greet "))
    name, version, digest, path = row.split()
    assert (name, version) == ("greet", "v1.0.0")
    assert path.startswith(str(tmp_path / "tools")) and os.access(path, os.X_OK)
    assert digest == hashlib.sha256(open(path, "rb").read()).hexdigest()

    ws.doit()
    assert ws.executed() == set()

    # the same pin rebuilt into a different binary (another Go release, say) reruns what uses it
    with open(path, "ab") as binary:
        binary.write(b"\0")
    with open(path + ".sha256", "w") as record:
        record.write(hashlib.sha256(open(path, "rb").read()).hexdigest() + "\n")
    ws.doit()
    assert ws.executed() == {"app:greeting"}
    assert ws.reasons()["app:greeting"] == "tool changed"
    ws.doit()
    assert ws.executed() == set()

    ws.write("workspace.yaml", WORKSPACE.format(version="v1.1.0"))
    ws.doit()
    assert ws.executed() == {"app:greeting"}
    assert ws.reasons()["app:greeting"] == "tool changed"
    assert ws.read("app/greeting.txt") == "greetings from v1.1.0\n"


def test_unknown_version_fails_with_the_tool_named(ws):
    ws.write("workspace.yaml", WORKSPACE.format(version="v9.9.9"))
    result = ws.doit(check=False)
    assert result.returncode != 0
    assert "tool 'greet': `go install example.test/greet@v9.9.9` failed" in result.stdout
    assert "Check the package path and version in workspace.yaml" in result.stdout
    assert not (ws.root / "app/greeting.txt").exists()


def test_missing_go_is_one_clear_error(ws):
    ws.env["PATH"] = "/usr/bin:/bin"  # no Go here
    result = ws.doit("app:greeting", check=False)
    assert result.returncode != 0
    assert "tool 'greet' (example.test/greet@v1.0.0): cannot install it: no `go` command on PATH" in result.stdout


def test_floating_version_is_refused(ws):
    ws.write("workspace.yaml", WORKSPACE.format(version="latest"))
    result = ws.doit(check=False)
    assert result.returncode == 3
    assert "workspace.yaml:7: tool 'greet': version 'latest' is not exact (it floats)" in result.stderr


def test_two_builds_installing_the_same_tool_at_once(workspace, tmp_path):
    env = proxy_env(make_proxy(tmp_path), tmp_path)
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        (root / "app").mkdir(parents=True)
        (root / "dodo.py").write_text("from ksbuild.dodo import *\n")
        (root / "workspace.yaml").write_text(WORKSPACE.format(version="v1.0.0"))
        (root / "app/BUILD.yaml").write_text(BUILD)
        roots.append(root)
    runs = [subprocess.Popen([sys.executable, "-m", "doit", "app:greeting"], cwd=root, env={**workspace.run_env(), **env},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for root in roots]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for root in roots:
        assert (root / "app/greeting.txt").read_text() == "greetings from v1.0.0\n"
    installed = [p for p in (tmp_path / "tools").rglob("greet") if p.is_file()]
    assert len(installed) == 1
    assert not [p for p in (tmp_path / "tools").rglob(".installing-*")]
