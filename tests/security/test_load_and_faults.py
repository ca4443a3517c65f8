"""What an attacker (or an unlucky user) can put in front of ksbuild: hostile `git:` values, wrong
shapes, outputs aimed at the build's own files, symbolic links out of the workspace; and the faults
of an ordinary day: Ctrl-C, a full disk, corrupted state, a failed tool install, a repository
without commits, sandboxes a killed run left behind. Each ends in a `file:line` error or one line
saying what happened, with its exit code, and never a Python traceback."""
from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Workspace, git, interruptible

ONE = "components:\n  app:\n    path: app\n"
ROOT_COMPONENT = "components:\n  app:\n    path: .\n"


def run(ws: Workspace, *args: str, ksbuild: bool = False, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`doit ARGS` (or `ksbuild ARGS`) in the workspace, output combined in `.out`."""
    command = [sys.executable, "-m", "ksbuild.cli.main" if ksbuild else "doit", *args]
    result = subprocess.run(command, cwd=ws.root, capture_output=True, text=True, timeout=timeout,
                            env={**ws.run_env(), **(env or {})})
    result.out = result.stdout + result.stderr
    assert "Traceback" not in result.out, result.out
    return result


def load_error(ws: Workspace, *args: str, **kwargs) -> str:
    """The output of a run that must stop with a load error (exit 2) before anything runs."""
    result = run(ws, *(args or ("list",)), **kwargs)
    assert result.returncode == 2, result.out  # a configuration error
    return result.out


def one_target(ws: Workspace, body: str, workspace: str = ONE, files=("in.txt",)) -> None:
    ws.write("workspace.yaml", workspace)
    ws.write("app/BUILD.yaml", "targets:\n  t:\n" + "".join(f"    {line}\n" for line in body.splitlines()),
             dedent=False)
    for name in files:
        ws.write(f"app/{name}", "x\n")


# 1. git: values never reach git as options ---------------------------------------------------------

@pytest.fixture
def git_ws(workspace, tmp_path) -> Workspace:
    workspace.env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # the git mirrors
    return workspace


def test_a_git_url_that_is_an_option_runs_nothing(git_ws, tmp_path):
    marker = tmp_path / "pwned"
    git_ws.write("workspace.yaml", f"components:\n  evil:\n    git: '--upload-pack=sh -c \"touch {marker}\"'\n"
                                   "    rev: v1.0.0\n", dedent=False)
    out = load_error(git_ws, "list", ksbuild=True)
    assert not marker.exists()
    assert "workspace.yaml:3: component 'evil': git '--upload-pack=sh -c" in out
    assert "starts with '-'" in out


@pytest.mark.parametrize("url, rev, expected", [
    ("ext::sh -c touch% /tmp/ksbuild-pwned", "v1", "workspace.yaml:3: component 'evil': git 'ext::sh"),
    ("ssh://-oProxyCommand=touch /tmp/ksbuild-pwned/x", "v1", "workspace.yaml:3: component 'evil': git 'ssh://-o"),
    ("git@-oProxyCommand=x:repo", "v1", "workspace.yaml:3: component 'evil': git 'git@-o"),
    ("http://example.org/repo.git", "v1", "is not a URL ksbuild fetches from"),
    ("/srv/repo", "v1", "is not a URL ksbuild fetches from"),
    ("file://host/repo", "v1", "is not file:///ABSOLUTE/PATH"),
    ("https://example.org/repo.git", "--output=/tmp/ksbuild-pwned",
     "workspace.yaml:4: component 'evil': rev '--output"),
    ("https://example.org/repo.git", "v1..2", "workspace.yaml:4: component 'evil': rev 'v1..2' is not a valid tag"),
    ("https://example.org/repo.git", "v1^{tree}", "is not a valid tag name"),
])
def test_git_urls_and_revs_that_are_refused(git_ws, url, rev, expected):
    git_ws.write("workspace.yaml", f"components:\n  evil:\n    git: {json.dumps(url)}\n    rev: {json.dumps(rev)}\n",
                 dedent=False)
    assert expected in load_error(git_ws)


def test_git_urls_ksbuild_accepts():
    from ksbuild.loader.gitsource import rev_problem, url_problem

    for url in ("https://github.com/kubestellar/kubestellar", "ssh://git@github.com:22/a/b.git",
                "git://example.org/a", "file:///srv/repo", "git@github.com:kubestellar/ocm-status-addon.git"):
        assert url_problem(url) == "", url
    for rev in ("v0.29.0", "kubestellar/v1.2.3", "0123456789abcdef0123456789abcdef01234567"):
        assert rev_problem(rev) == "", rev


def test_a_locked_commit_that_is_an_option_runs_nothing(git_ws, tmp_path):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q")
    (upstream / "BUILD.yaml").write_text("targets: {}\n")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "one")
    git(upstream, "tag", "v1.0.0")
    marker = tmp_path / "pwned"
    url = upstream.as_uri()
    git_ws.write("workspace.yaml", f"components:\n  dep:\n    git: {url}\n    rev: v1.0.0\n", dedent=False)
    git_ws.write("workspace.lock", json.dumps({"components": {"dep": {
        "git": url, "rev": "v1.0.0", "commit": f"--upload-pack=touch {marker}; git-upload-pack"}}}))
    out = load_error(git_ws)
    assert not marker.exists()
    assert "workspace.yaml:2: component 'dep': workspace.lock records '--upload-pack=" in out
    assert "not a full commit SHA" in out


# 2. wrong shapes are file:line errors ------------------------------------------------------------

SHAPES = {
    "tools as a list": (ONE + "tools: [a, b]\n", "targets: {}\n", "workspace.yaml:4: workspace.yaml: field 'tools'"),
    "a component that is a list": ("components:\n  app: [a]\n", None, "workspace.yaml:2: component 'app' must be"),
    "a component that is a string": ("components:\n  app: here\n", None, "workspace.yaml:2: component 'app' must be"),
    "cache as a list": (ONE + "cache: [a]\n", "targets: {}\n", "workspace.yaml:4: workspace.yaml: field 'cache'"),
    "targets as a list": (ONE, "targets: [a, b]\n", "app/BUILD.yaml:1: BUILD.yaml: field 'targets' must be a mapping"),
    "a field of the wrong type": (ONE, "targets:\n  t: {rule: command, outs: [o], cmd: [x], srcs: 3}\n",
                                  "app/BUILD.yaml:2: target 't': field 'srcs' must be a list of strings"),
    "a non-string key": (ONE, "targets:\n  t: {rule: command, outs: [o], cmd: [x], 3: y}\n",
                         "app/BUILD.yaml:2: unknown key 3 in target 't'"),
    "a non-string target name": (ONE, "targets:\n  1: {rule: command, outs: [o], cmd: [x]}\n",
                                 "app/BUILD.yaml:2: target name 1 is not valid"),
    "a name ending in a newline": ("components:\n  \"app\\n\":\n    path: app\n", "targets: {}\n",
                                   "workspace.yaml:2: component name 'app\\n' is not valid"),
    "**/..": (ONE, "targets:\n  t:\n    rule: command\n    srcs: ['**/..']\n    outs: [o]\n    cmd: [x]\n",
              "app/BUILD.yaml:4: //app:t: srcs: glob '**/..' holds '..'"),
    "an absolute glob": (ONE, "targets:\n  t:\n    rule: command\n    srcs: ['/etc/*']\n    outs: [o]\n    cmd: [x]\n",
                         "app/BUILD.yaml:4: //app:t: srcs entry '/etc/*' leaves the component"),
    "a glob climbing out": (ONE, "targets:\n  t:\n    rule: command\n    srcs: ['*/../../*']\n    outs: [o]\n"
                                 "    cmd: [x]\n", "app/BUILD.yaml:4: //app:t: srcs entry '*/../../*' leaves"),
    "a glob with a NUL byte": (ONE, "targets:\n  t:\n    rule: command\n    srcs: [\"d\\0/*\"]\n    outs: [o]\n"
                                    "    cmd: [x]\n", "app/BUILD.yaml:4: target 't': field 'srcs' holds a NUL"),
    "a command with a NUL byte": (ONE, "targets:\n  t:\n    rule: command\n    outs: [o]\n    cmd: [\"a\\0\"]\n",
                                  "app/BUILD.yaml:5: target 't': field 'cmd' holds a NUL"),
    "a reversed range in a glob": (ONE, "targets:\n  t:\n    rule: command\n    srcs: ['[z-a]*']\n    outs: [o]\n"
                                        "    cmd: [x]\n", "app/BUILD.yaml:4: //app:t: srcs: glob '[z-a]*' matches no"),
    "a value no YAML type accepts": (ONE, "targets:\n  t:\n    rule: command\n    doc: 2024-13-45\n",
                                     "app/BUILD.yaml:4: YAML value error: month must be in 1..12"),
    "an environment variable name with '='": (ONE, "targets:\n  t:\n    rule: command\n    outs: [o]\n"
                                                   "    cmd: [x]\n    env: {\"A=B\": x}\n",
                                              "app/BUILD.yaml:6: target 't': env: 'A=B' is not an environment"),
}


@pytest.mark.parametrize("case", SHAPES)
def test_wrong_shapes_are_file_line_errors(workspace, case):
    workspace_text, build_text, expected = SHAPES[case]
    workspace.write("workspace.yaml", workspace_text, dedent=False)
    if build_text is not None:
        workspace.write("app/BUILD.yaml", build_text, dedent=False)
    assert expected in load_error(workspace)


def test_a_bad_glob_in_a_format_step_is_no_traceback(workspace):
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [x]\nformat: [{tool: gofmt, files: '[z-a]'}]",
               workspace=ONE + "tools:\n  gofmt: {package: golang.org/x/tools/cmd/goimports, version: v0.1.0}\n")
    run(workspace, "list")  # loads, or refuses with file:line; no traceback either way


# 3. outputs never overwrite sources ------------------------------------------------------------

@pytest.mark.parametrize("out, expected", [
    ("BUILD.yaml", "would overwrite BUILD.yaml, a file the build is defined by"),
    ("workspace.yaml", "would overwrite workspace.yaml, a file the build is defined by"),
    ("workspace.lock", "would overwrite workspace.lock, a file the build is defined by"),
    ("dodo.py", "would overwrite dodo.py, a file the build is defined by"),
    ("sub/BUILD.yaml", "would overwrite BUILD.yaml, a file the build is defined by"),
    (".git/hooks/pre-commit", "would overwrite git's own files"),
    (".ksbuild/plans.json", "would overwrite ksbuild's state (.ksbuild/)"),
    ("'*.txt'", "holds '*', '?' or '['"),
])
def test_outputs_may_not_overwrite_the_build_definition_or_state(workspace, out, expected):
    workspace.write("workspace.yaml", ROOT_COMPONENT)
    workspace.write("BUILD.yaml", f"targets:\n  t:\n    rule: command\n    outs: [{out}]\n"
                                  f"    cmd: [sh, -c, {json.dumps('echo pwned > ' + out)}]\n", dedent=False)
    before = (workspace.root / "workspace.yaml").read_text()
    out_text = load_error(workspace, "app:t")
    assert f"BUILD.yaml:4: //app:t: outs path '{out.strip(chr(39))}' {expected}" in out_text
    assert (workspace.root / "workspace.yaml").read_text() == before


def test_a_target_must_produce_something(workspace):
    one_target(workspace, "rule: command\nouts: []\ncmd: [sh, -c, 'true']")
    assert "app/BUILD.yaml:4: //app:t: declares no output: a target must produce something" in load_error(workspace)


@pytest.mark.parametrize("srcs, outs", [("[in.txt]", "[in.txt]"), ("[./in.txt]", "[in.txt]"),
                                        ("[sub/../in.txt]", "[in.txt]")])
def test_an_output_that_is_also_an_input_is_refused(workspace, srcs, outs):
    one_target(workspace, f"rule: command\nsrcs: {srcs}\nouts: {outs}\ncmd: [sh, -c, 'echo new > in.txt']",
               files=("in.txt", "sub/keep"))
    out = load_error(workspace, "app:t")
    assert "app/BUILD.yaml:4: //app:t: srcs:" in out and "is also an output of the target" in out
    assert workspace.read("app/in.txt") == "x\n"


def test_a_copy_onto_its_own_sources_through_a_glob_is_refused(workspace):
    one_target(workspace, "rule: copy\nsrcs: ['*.txt']\nto: [.]")
    assert "app/BUILD.yaml:4: //app:t: 'app/in.txt' is both an input and an output" in load_error(workspace)


@pytest.mark.parametrize("first, second", [("a/b", "a/b/c"), ("a/b/c", "a/b"), ("a/b", "a/b/c/d")])
def test_a_file_output_where_another_output_needs_a_directory(workspace, first, second):
    workspace.write("workspace.yaml", ONE)
    workspace.write("app/BUILD.yaml", f"""\
        targets:
          one: {{rule: command, outs: [{first}], cmd: ["true"]}}
          two: {{rule: command, outs: [{second}], cmd: ["true"]}}
        """)
    out = load_error(workspace)
    assert f"app/BUILD.yaml:3: //app:two: output 'app/{second}' needs a file and a directory at one path, " \
           "with an output of //app:one (app/BUILD.yaml:2)" in out


CRDS = "  crds:\n    rule: crd\n    packages: [api/v1]\n    out_dir: config/crd\n"
FLAT = "  flat:\n    rule: command\n    outs: [config/crd]\n    cmd: [\"true\"]\n"


@pytest.mark.parametrize("targets, expected", [
    (CRDS + FLAT, "app/BUILD.yaml:8: //app:flat: output 'app/config/crd' needs a file and a directory at one path, "
                  "with an output of //app:crds (app/BUILD.yaml:5)"),
    (FLAT + CRDS, "app/BUILD.yaml:9: //app:crds: output 'app/config/crd/' needs a file and a directory at one path, "
                  "with an output of //app:flat (app/BUILD.yaml:4)"),
])
def test_a_file_output_where_another_target_owns_the_directory(workspace, targets, expected):
    workspace.write("workspace.yaml", ONE + "tools:\n  controller-gen: {package: sigs.k8s.io/controller-tools/cmd/"
                                            "controller-gen, version: v0.17.3}\n")
    workspace.write("app/go.mod", "module example.test/app\n\ngo 1.21\n")
    workspace.write("app/go.sum", "")
    workspace.write("app/api/v1/types.go", "package v1\n\n// +kubebuilder:object:root=true\ntype Thing struct{}\n")
    workspace.write("app/BUILD.yaml", "targets:\n" + targets, dedent=False)
    assert expected in load_error(workspace)


def test_an_output_below_a_source_file_or_on_a_source_directory(workspace):
    one_target(workspace, "rule: command\nouts: [in.txt/x]\ncmd: [sh, -c, 'true']")
    assert "app/BUILD.yaml:4: //app:t: outs path 'in.txt/x' is below 'app/in.txt', which is a file" \
        in load_error(workspace)
    one_target(workspace, "rule: command\nouts: [notes]\ncmd: [sh, -c, 'true']", files=("notes/a.md",))
    assert "app/BUILD.yaml:4: //app:t: outs path 'notes' is a directory" in load_error(workspace)


# 4. symbolic links out of the workspace ----------------------------------------------------------

@pytest.fixture
def outside(tmp_path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text("root:x:0:0:the secret\n")
    return directory


@pytest.mark.parametrize("srcs", ["[pw]", "['*']", "['p?']"])
def test_a_source_that_links_out_of_the_workspace(workspace, outside, srcs):
    one_target(workspace, f"rule: command\nsrcs: {srcs}\nouts: [o]\ncmd: [sh, -c, 'cat pw > o']")
    os.symlink(outside / "secret.txt", workspace.root / "app/pw")
    out = load_error(workspace, "app:t")
    assert f"app/BUILD.yaml:4: //app:t: srcs: 'app/pw' leads out of the workspace through a symbolic link " \
           f"(to {outside.resolve() / 'secret.txt'})" in out
    assert "the secret" not in out and not (workspace.root / "app/o").exists()


def test_a_glob_below_a_directory_that_links_out(workspace, outside):
    one_target(workspace, "rule: command\nsrcs: ['d/*.txt']\nouts: [o]\ncmd: [sh, -c, 'cat d/* > o']")
    os.symlink(outside, workspace.root / "app/d")
    out = load_error(workspace)
    assert "app/BUILD.yaml:4: //app:t: srcs: 'app/d' leads out of the workspace through a symbolic link" in out
    one_target(workspace, "rule: command\nsrcs: ['**/*.txt']\nouts: [o]\ncmd: [sh, -c, 'true']")
    assert run(workspace, "list").returncode == 0  # `**` never descends into the linked directory


def test_an_output_directory_that_links_out_of_the_workspace(workspace, outside):
    one_target(workspace, "rule: command\nouts: [gen/o.txt]\ncmd: [sh, -c, 'echo pwned > gen/o.txt']")
    os.symlink(outside, workspace.root / "app/gen")
    out = load_error(workspace, "app:t")
    assert f"app/BUILD.yaml:4: //app:t: outs path 'gen/o.txt' goes through a symbolic link leading out of the " \
           f"workspace (to {outside.resolve() / 'o.txt'})" in out
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_component_that_links_out_of_the_workspace(workspace, outside):
    (outside / "BUILD.yaml").write_text("targets: {}\n")
    os.symlink(outside, workspace.root / "app")
    workspace.write("workspace.yaml", ONE)
    assert "workspace.yaml:3: component 'app': 'app' is a symbolic link leading out of the workspace" \
        in load_error(workspace)


@pytest.mark.parametrize("ksbuild", [False, True])
def test_a_state_directory_that_is_a_link_is_refused(workspace, outside, ksbuild):
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [sh, -c, 'echo x > o']")
    os.symlink(outside, workspace.root / ".ksbuild")
    out = load_error(workspace, "app:t", ksbuild=ksbuild)
    assert "ksbuild: .ksbuild: is a symbolic link: ksbuild keeps its state in a directory of its own" in out
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_links_inside_the_workspace_are_fine(workspace):
    one_target(workspace, "rule: command\nsrcs: [link.txt]\nouts: [o]\ncmd: [sh, -c, 'cat link.txt > o']")
    os.symlink("in.txt", workspace.root / "app/link.txt")
    assert run(workspace, "app:t").returncode == 0
    assert workspace.read("app/o") == "x\n"


# 5. Ctrl-C ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["doit", "ksbuild", "doit -n 2"])
def test_ctrl_c_prints_one_line_and_exits_130(workspace, command, tmp_path):
    workspace.env["KSBUILD_SANDBOX_DIR"] = str(tmp_path / "boxes")  # where to see the command start
    (tmp_path / "boxes").mkdir()
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [sh, -c, 'echo old > o']")
    run(workspace, "app:t")
    marker = f"started-{uuid.uuid4().hex}"  # no other run's sandbox holds it
    one_target(workspace, f"rule: command\nouts: [o]\ncmd: [sh, -c, 'touch {marker}; sleep 60; echo new > o']")
    if command == "ksbuild":
        (workspace.root / "dodo.py").unlink()
    argv = [sys.executable, "-m", "ksbuild.cli.main" if command == "ksbuild" else "doit",
            *command.split()[1:], "app:t"]
    process = subprocess.Popen(argv, cwd=workspace.root, env=workspace.run_env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=interruptible)
    started = os.path.join(tmp_path, "boxes", "ksbuild-run-*", "box-*", "root", "app", marker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not glob.glob(started) and process.poll() is None:
        time.sleep(0.05)
    assert glob.glob(started), "the command never started"
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    assert out.splitlines()[-1] == "ksbuild: interrupted; outputs of the interrupted target are unchanged"
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert workspace.read("app/o") == "old\n"


# 6. a full disk ----------------------------------------------------------------------------------

def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_disk_when_state_is_written(tmp_path, monkeypatch):
    from ksbuild import files

    target = tmp_path / ".ksbuild" / "plans.json"
    monkeypatch.setattr(files.os, "replace", _full)
    with pytest.raises(files.DiskFull) as caught:
        files.write_atomically(str(target), b"{}")
    message = str(caught.value)
    assert message.startswith("ksbuild: no space left on the filesystem ")
    assert " mounted on /" in message and " free of " in message and str(target) in message
    assert not list(target.parent.glob("*.tmp"))  # the partial file is gone
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EDQUOT, "quota")))
    with pytest.raises(files.DiskFull, match="disk quota exceeded on the filesystem"):
        files.write_atomically(str(target), b"{}")


FULL_DISK = """\
import errno, os
_replace = os.replace
def replace(source, destination, *args, **kwargs):
    if str(destination).endswith("last-run.json"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source))
    return _replace(source, destination, *args, **kwargs)
os.replace = replace
"""


@pytest.mark.parametrize("ksbuild", [False, True])
def test_a_full_disk_at_the_end_of_a_run_is_one_line(workspace, tmp_path, ksbuild):
    """The disk fills up as the run is recorded (simulated: os.replace fails with ENOSPC there)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(FULL_DISK)
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [sh, -c, 'echo x > o']")
    result = run(workspace, "app:t", ksbuild=ksbuild, env={"PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "site"), *filter(None, [os.environ.get("PYTHONPATH")])])})
    assert result.returncode == 2, result.out
    last = result.out.strip().splitlines()[-1]
    assert last.startswith("ksbuild: no space left on the filesystem ") and " mounted on " in last
    assert last.endswith("writing .ksbuild/last-run.json: free some space there, then run again")
    assert not list((workspace.root / ".ksbuild").glob("*.tmp"))


def test_a_full_disk_while_recording_the_run_is_one_line(monkeypatch, capsys):
    from ksbuild import files
    from ksbuild.cli import main

    def full(args, namespace=None):
        raise files.DiskFull(errno.ENOSPC, "/work/.ksbuild/last-run.json")

    monkeypatch.setattr(main, "_run_doit", full)
    monkeypatch.setattr(main.os, "chdir", lambda path: None)
    monkeypatch.setattr("ksbuild.loader.workspace.require_root", lambda start: "/work")
    assert main.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ksbuild: no space left on the filesystem") and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_task_failing_on_a_full_disk_shows_no_traceback():
    from doit.exceptions import TaskError

    from ksbuild.cli.reporter import _without_traceback
    from ksbuild.files import DiskFull

    try:
        raise DiskFull(errno.ENOSPC, "/work/app/out.txt")
    except DiskFull as err:
        fail = TaskError("PythonAction Error", err)
    _without_traceback(fail)
    assert fail.get_msg().startswith("ksbuild: no space left on the filesystem")
    assert "Traceback" not in fail.get_msg() and "/work/app/out.txt" in fail.get_msg()


def test_the_stat_cache_on_a_full_disk_warns_once_and_goes_on(tmp_path, monkeypatch, capsys):
    from ksbuild.cache import digests

    (tmp_path / ".ksbuild").mkdir()
    source = tmp_path / "a.txt"
    source.write_text("hello\n")
    os.utime(source, (time.time() - 60, time.time() - 60))
    cache = digests.StatCache(str(tmp_path))
    original = cache._execute

    def full(sql, values, many=False):
        if sql.startswith("INSERT"):
            err = sqlite3.OperationalError("database or disk is full")
            err.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise err
        return original(sql, values, many)

    monkeypatch.setattr(cache, "_execute", full)
    expected = digests.sha256_file(str(source))
    assert cache.digest("a.txt") == expected
    cache.set_key_record("app:t", "{}")
    cache.flush()  # what a target learnt is written at its end: the disk is full then
    assert cache.digest("a.txt") == expected
    cache.flush()
    cache.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ksbuild: warning: no space left on the filesystem")
    assert "stat cache" in err


# 7. corrupted state ------------------------------------------------------------------------------

STATE_FILES = ["stat-cache.sqlite", "doit-state.sqlite", "plan.pickle", "last-run.json", "plans.json",
               "outputs.json"]


@pytest.fixture
def built(workspace) -> Workspace:
    one_target(workspace, "rule: command\nsrcs: [in.txt]\nouts: [o]\ncmd: [sh, -c, 'cat in.txt > o']")
    run(workspace)
    old = time.time() - 60  # old enough for the stat cache and the plan cache to trust
    for path in ("workspace.yaml", "app/BUILD.yaml", "app/in.txt", "app", "."):
        os.utime(workspace.root / path, (old, old))
    workspace.write("app/in.txt", "y\n")
    os.utime(workspace.root / "app/in.txt", (old, old))
    run(workspace)  # the stat cache remembers in.txt, the plan is cached
    assert all((workspace.root / ".ksbuild" / name).exists() for name in STATE_FILES)
    return workspace


@pytest.mark.parametrize("name", STATE_FILES)
def test_a_corrupted_state_file_is_set_aside_with_one_warning(built, name):
    state = built.root / ".ksbuild" / name
    state.write_bytes(b"\x00garbage\xff" * 300)
    built.write("app/in.txt", "changed\n")  # a target runs: the stat cache is read
    os.utime(built.root / "app/in.txt", (time.time() - 60, time.time() - 60))
    first = run(built, "build", "explain")
    assert first.returncode == 0, first.out
    [warning] = [line for line in first.out.splitlines() if "was corrupt" in line]
    assert warning.startswith(f"ksbuild: warning: .ksbuild/{name} was corrupt (")
    assert warning.endswith(f"moved it to .ksbuild/{name}.corrupt and start it anew")
    assert (built.root / ".ksbuild" / f"{name}.corrupt").read_bytes().startswith(b"\x00garbage")
    assert built.read("app/o") == "changed\n"
    again = run(built, "build", "explain")
    assert again.returncode == 0 and "was corrupt" not in again.out, again.out


def test_state_of_the_wrong_shape_is_set_aside_too(built):
    (built.root / ".ksbuild/outputs.json").write_text('{"app:t": {"app/o": "not a signature"}}')
    (built.root / ".ksbuild/last-run.json").write_text('{"tasks": 3}')
    result = run(built, "explain")
    assert result.returncode == 0, result.out
    assert "ksbuild: no run recorded yet" in result.out
    assert sum("was corrupt" in line for line in result.out.splitlines()) == 2


# 8. a failed tool install is a failure -----------------------------------------------------------

@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")
def test_a_failed_tool_install_counts_as_failed(workspace, tmp_path):
    from tests.goproxy import make_proxy, proxy_env

    workspace.env.update(proxy_env(make_proxy(tmp_path), tmp_path))
    workspace.write("workspace.yaml", ONE + "tools:\n  greet: {package: example.test/greet, version: v9.9.9}\n")
    workspace.write("app/BUILD.yaml", "targets:\n  t:\n    rule: command\n    tools: [greet]\n    outs: [o]\n"
                                      "    cmd: [sh, -c, 'greet > o']\n", dedent=False)
    result = run(workspace)
    assert result.returncode != 0
    summary = [line for line in result.out.splitlines() if line.startswith("ksbuild: ") and " tasks: " in line]
    assert summary and summary[-1].startswith("ksbuild: 1 tasks: 0 executed, 0 from cache, 0 up to date, 1 failed")
    assert workspace.statuses() == {"tool:greet": "failed"}


# 9. verify in a repository without commits -------------------------------------------------------

@pytest.mark.parametrize("args", [["verify"], ["verify", "--worktree"]])
def test_verify_in_a_repository_without_commits(workspace, args):
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [sh, -c, 'echo x > o']")
    git(workspace.root, "init", "-q")
    for ksbuild in (False, True):
        result = run(workspace, *args, ksbuild=ksbuild)
        assert result.returncode == 2, result.out
        assert f"verify: {workspace.root} is a git repository with no commits yet; it checks a git checkout " \
               "(commit the workspace first)" in result.out


# 10. sandboxes a killed run left behind ----------------------------------------------------------

def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _sandbox(directory: Path, name: str, owner: int | None, age: float) -> Path:
    box = directory / name
    (box / "root").mkdir(parents=True)
    if owner is not None:
        (box / ".owner").write_text(str(owner))
    os.utime(box, (time.time() - age, time.time() - age))
    return box


def test_stale_sandboxes_of_dead_runs_are_removed(tmp_path):
    from ksbuild.exec.stale import remove_stale_sandboxes

    dead = _sandbox(tmp_path, "ksbuild-dead", _dead_pid(), age=60)
    alive = _sandbox(tmp_path, "ksbuild-alive", os.getpid(), age=60)
    young = _sandbox(tmp_path, "ksbuild-young", _dead_pid(), age=0)
    unmarked = _sandbox(tmp_path, "ksbuild-verify-x", None, age=60)
    other = _sandbox(tmp_path, "other-dead", _dead_pid(), age=60)
    assert remove_stale_sandboxes(str(tmp_path)) == [str(dead)]
    assert not dead.exists()
    assert alive.exists() and young.exists() and unmarked.exists() and other.exists()


def test_a_run_removes_stale_sandboxes_and_marks_its_own(workspace, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    dead = _sandbox(scratch, "ksbuild-killed", _dead_pid(), age=60)
    one_target(workspace, "rule: command\nouts: [o]\ncmd: [sh, -c, 'exit 1']")
    workspace.env["KSBUILD_SANDBOX_DIR"] = str(scratch)
    result = run(workspace, "app:t", env={"KSBUILD_KEEP_SANDBOX": "0"})
    assert result.returncode == 1
    assert not dead.exists()
    kept = run(workspace, "app:t", env={"KSBUILD_KEEP_SANDBOX": "1"})
    assert kept.returncode == 1
    [box] = [p for p in scratch.iterdir() if p.name.startswith("ksbuild-") and (p / "root").is_dir()]
    assert not (box / ".owner").exists()  # kept on purpose: not a dead run's, so the next run leaves it
    os.utime(box, (time.time() - 60, time.time() - 60))
    run(workspace, "app:t", env={"KSBUILD_KEEP_SANDBOX": "0"})
    assert box.is_dir()
