"""Pinned tools installed with the real `go install`, from a Go module proxy on disk."""
import hashlib
import os
import re
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
    assert result.returncode == 2  # a configuration error
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


# A tool that Go 1.21 builds and newer Go does not: x/tools v0.24.0 (go.mod `go 1.19`) has a constant
# array length that Go 1.24 and later reject. Real Go, through the machine's module proxy.
STRINGER = ("stringer", "golang.org/x/tools/cmd/stringer", "v0.24.0")


@pytest.fixture
def private_store(tmp_path, monkeypatch):
    """The tool store and ksbuild's cache in tmp_path; Go's own caches stay the machine's."""
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setenv("GOCACHE", gocache)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KSBUILD_TOOLS_DIR", str(tmp_path / "tools"))
    return tmp_path / "tools"


def test_a_tool_pinned_to_an_older_go_is_built_by_it(private_store):
    from ksbuild.model import ToolPin
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import toolchain_for

    pin = ToolPin(*STRINGER, go="1.21.13")
    go = toolchain_for(pin, default_version="1.99.1")  # the pin's own release wins
    assert go.version == "go1.21.13"
    assert go.sandbox_env()["GOTOOLCHAIN"] == "local"
    assert subprocess.run([go.go, "version"], capture_output=True, text=True, check=True,
                          env={**os.environ, "GOTOOLCHAIN": "local"}).stdout.startswith("go version go1.21.13 ")
    binary = store.install(pin, go)
    assert binary.startswith(str(private_store)) and f"/go1.21.13-{go.platform}/bin/stringer" in binary
    built_by = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, check=True).stdout
    assert built_by.splitlines()[0] == f"{binary}: go1.21.13"
    assert "\tmod\tgolang.org/x/tools\tv0.24.0\t" in built_by
    assert store.install(pin, go) == binary  # installed once


def test_a_tool_that_does_not_compile_with_the_machines_go_says_so(private_store):
    from ksbuild.model import ToolPin
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import go_env, toolchain_for

    go = go_env()
    if int(re.match(r"go1\.(\d+)", go.version).group(1)) < 24:
        pytest.skip(f"{go.version} still compiles x/tools v0.24.0")
    pin = ToolPin(*STRINGER)
    with pytest.raises(store.ToolInstallError) as raised:
        store.install(pin, toolchain_for(pin))
    message = str(raised.value)
    assert message.startswith(f"tool 'stringer': `go install golang.org/x/tools/cmd/stringer@v0.24.0` does not compile "
                              f"with {go.version}: pin the Go release that builds it, e.g. `go: 1.21.13` in the "
                              "tool's pin:\n")
    assert "    # golang.org/x/tools/internal/tokeninternal" in message
    assert "proxy" not in message
    assert not store.installed_digest(pin, go)
