"""Shared helpers: throw-away workspaces and real doit runs in them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DODO = "from ksbuild.dodo import *  # noqa\n"


class Workspace:
    def __init__(self, root: Path):
        self.root = root
        # Extra environment for doit runs: a private action cache, so that what a test expects to
        # run is not restored from another test's (or the developer's) cache.
        self.env: dict[str, str] = {"KSBUILD_CACHE_DIR": str(root.parent / f"{root.name}-action-cache")}

    def run_env(self) -> dict[str, str]:
        """The machine's environment without its ksbuild settings, plus the test's."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("KSBUILD_")}
        return {**base, **self.env}

    def write(self, relative: str, text: str, dedent: bool = True) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text)
        return path

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text()

    def doit(self, *args: str, check: bool = True, cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd or self.root,
                                capture_output=True, text=True, timeout=timeout, env=self.run_env())
        if check and result.returncode != 0:
            raise AssertionError(f"doit {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def last_run(self) -> dict:
        return json.loads((self.root / ".ksbuild" / "last-run.json").read_text())

    def statuses(self) -> dict[str, str]:
        return {t["task"]: t["status"] for t in self.last_run()["tasks"]}

    def executed(self) -> set[str]:
        return {t for t, s in self.statuses().items() if s == "executed"}

    def reasons(self) -> dict[str, str]:
        return {t["task"]: t["reason"] for t in self.last_run()["tasks"]}


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}


def git(root: Path, *args: str) -> str:
    """Run git in `root` (with an author), fail the test on an error, return its output."""
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def commit_all(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, "--allow-empty")
    return git(root, "rev-parse", "HEAD")


def copy_constellation(root: Path) -> Workspace:
    """The bundled constellation (workspace.yaml, dodo.py, components/) copied to `root`."""
    shutil.copytree(REPO / "components", root / "components", ignore=shutil.ignore_patterns(".ksbuild"))
    for name in ("workspace.yaml", "dodo.py"):
        shutil.copy(REPO / name, root / name)
    ws = Workspace(root)
    from tests.engine import engine_env

    ws.env.update(engine_env())  # its toolbox image builds through a Docker-API engine
    return ws


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.write("dodo.py", DODO)
    return ws


def app_and_lib(workspace: Workspace, workspace_yaml: str, lib: str, app: str) -> Workspace:
    """A two-component workspace (components/lib, components/app) with the given BUILD files."""
    workspace.write("workspace.yaml", workspace_yaml)
    workspace.write("components/lib/BUILD.yaml", lib)
    workspace.write("components/lib/greeting.txt.in", "hello\n")
    workspace.write("components/app/BUILD.yaml", app)
    workspace.write("components/app/notes/a.md", "a\n")
    return workspace


def interruptible() -> None:
    """For a child a test interrupts: SIGINT back to its default, even when the test runs in a
    background job (whose shell made it ignored, and Python then installs no KeyboardInterrupt)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def age(root) -> None:
    """Backdate everything below `root` (and it) by an hour, as in a checkout that was not just
    written: timestamps that young are not trusted (racy), and would count as changed."""
    import time

    old = time.time() - 3600
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            os.utime(os.path.join(current, name), (old, old))
    os.utime(root, (old, old))


def bump_mtime(path: Path) -> None:
    """Make a file look modified to a checker that trusts timestamps."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """The constellation, copied to a path unrelated to its Go module paths and generated once per
    test process."""
    ws = copy_constellation(tmp_path_factory.mktemp("checkout") / "not" / "a" / "gopath")
    ws.doit("generate")
    return ws.root


@pytest.fixture
def ws(generated, tmp_path) -> Workspace:
    """A private copy of the generated constellation (timestamps kept, so it is up to date)."""
    root = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(generated, root, symlinks=True)
    ws = Workspace(root)
    from tests.engine import engine_env

    ws.env.update(engine_env())
    return ws


@pytest.fixture(scope="session")
def origin(tmp_path_factory) -> tuple[Path, str]:
    """A git repository holding the constellation, and an action cache its verify has warmed."""
    ws = copy_constellation(tmp_path_factory.mktemp("origin") / "repo")
    ws.write(".gitignore", ".ksbuild/\n")
    git(ws.root, "init", "-q", "-b", "main")
    commit_all(ws.root, "constellation")
    ws.doit("verify")
    return ws.root, ws.env["KSBUILD_CACHE_DIR"]


@pytest.fixture
def clone(origin, tmp_path) -> Workspace:
    """A clone of `origin` that verifies from its warm action cache."""
    root = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin[0]), str(root))
    ws = Workspace(root)
    ws.env["KSBUILD_CACHE_DIR"] = origin[1]
    return ws
