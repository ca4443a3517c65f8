"""The command line as a user types it, through `ksbuild` and plain `doit` alike: help and version,
labels, quiet and silent no-ops, exit codes, clean, and verify's CI outputs (annotations, patch)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import app_and_lib, commit_all, git
from tests.integration.test_doit_runs import ALL, APP, LIB, WORKSPACE


@pytest.fixture
def ws(workspace):
    return app_and_lib(workspace, WORKSPACE, LIB, APP)


def ksbuild(ws, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ksbuild.cli.main", *args], cwd=cwd or ws.root,
                          capture_output=True, text=True, env=ws.run_env(), timeout=300)


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_help_and_version_are_ksbuilds(ws):
    result = ksbuild(ws, "--help")
    assert result.returncode == 0
    assert "usage: ksbuild [COMMAND]" in result.stdout and "//component:target" in result.stdout
    for command in ("verify", "versions", "graph", "release", "publish", "report", "init", "clean"):
        assert f"\n  {command} " in result.stdout, command
    version = ksbuild(ws, "--version")
    assert version.returncode == 0 and version.stdout.startswith("ksbuild ") and "(doit 0." in version.stdout
    for run in (ksbuild(ws, "verify", "--help"), ws.doit("verify", "--help")):
        assert run.returncode == 0 and run.stdout.startswith("usage: ksbuild verify [OPTIONS]")
        assert "--patch VALUE" in run.stdout
        no_traceback(run)


def test_an_unknown_option_is_one_line_and_exit_2(ws):
    for run in (ksbuild(ws, "verify", "--junitt", "x.xml"), ws.doit("verify", "--junitt", "x.xml", check=False)):
        assert run.returncode == 2
        assert run.stderr.strip() == ("ksbuild: verify: unknown option --junitt (did you mean --junit?); "
                                      "`ksbuild verify --help` lists its options")


def test_labels_name_targets_everywhere(ws):
    for run in (ws.doit("//lib:upper"), ksbuild(ws, ":upper", cwd=ws.root / "components/lib")):
        assert run.returncode == 0, run.stdout + run.stderr
        assert ws.executed() <= {"lib:upper"}
    assert ws.read("components/lib/greeting.txt") == "HELLO\n"
    ksbuild(ws, "//app/...")
    assert {"app:notes", "app:banner"} <= set(ws.statuses())
    ws.doit("//...")
    assert set(ws.statuses()) == ALL
    typo = ksbuild(ws, "//lib:uper")
    assert typo.returncode == 2
    assert "//lib:uper: no such target; did you mean lib:upper" in typo.stderr
    outside = ksbuild(ws, ":upper")
    assert outside.returncode == 2 and "write //COMPONENT:upper" in outside.stderr


def test_graph_of_some_targets_builds_nothing(ws):
    result = ws.doit("graph", "//app:banner", "--deps")
    assert "t_app_banner --> t_lib_twice" in result.stdout and "t_lib_twice --> t_lib_upper" in result.stdout
    assert "t_app_notes" not in result.stdout
    rdeps = ws.doit("graph", "//lib:upper", "--rdeps")
    assert "t_app_banner" in rdeps.stdout and "t_app_notes" not in rdeps.stdout
    assert not (ws.root / "components/lib/greeting.txt").exists()
    piped = subprocess.run(f"{sys.executable} -m doit graph | head -1", shell=True, cwd=ws.root,
                           capture_output=True, text=True, env=ws.run_env())
    assert piped.stdout == "flowchart LR\n"
    no_traceback(piped)


def test_a_noop_prints_only_the_summary_and_quiet_only_failures(ws):
    first = ksbuild(ws, "-q")  # ksbuild's option (under plain doit: KSBUILD_QUIET=1)
    assert first.stdout.splitlines()[-1].startswith("ksbuild: 4 tasks: 4 executed")
    assert not any(line.startswith(".  ") for line in first.stdout.splitlines())
    again = ws.doit()
    assert again.stdout.splitlines() == [again.stdout.strip()]  # one line: the summary
    assert "\033[" not in again.stdout  # no colour when not on a terminal


def test_one_exit_code_scheme(ws):
    ws.write("components/app/BUILD.yaml", APP.replace("rule: command", "rule: comand", 1))
    for run in (ws.doit(check=False), ksbuild(ws)):
        assert run.returncode == 2, run.stdout + run.stderr  # a configuration error
        assert "Did you mean 'command'?" in run.stdout + run.stderr
        no_traceback(run)
    ws.write("components/app/BUILD.yaml", APP.replace("cat notes/*.md", "false"))
    for run in (ws.doit(check=False), ksbuild(ws)):
        assert run.returncode == 1  # a build failure
        assert "FAILED app:notes" in run.stdout and "taskid" not in run.stdout
    assert ws.doit("explain", "nosuch", check=False).returncode == 2


def test_clean_keeps_committed_derived_files_unless_all(ws):
    ws.doit()
    ws.write(".gitignore", ".ksbuild/\ncomponents/app/banner.txt\n")
    git(ws.root, "init", "-q")
    commit_all(ws.root, "derived files committed, except the banner")
    kept = ws.doit("clean")
    assert (ws.root / "components/lib/greeting.txt").is_file()
    assert "lib:upper: kept 1 committed derived file(s) (`clean --all` removes them)" in kept.stdout
    removed = ksbuild(ws, "clean", "--all")
    assert "lib:upper: removing 1 committed derived file(s) (--all)" in removed.stdout
    assert not (ws.root / "components/lib/greeting.txt").exists()
    git(ws.root, "checkout", "--", ".")
    assert "removing 1 committed" in ws.doit("clean", "-a").stdout  # doit's spelling of it


def test_verify_annotates_findings_and_writes_a_patch_git_applies(ws):
    ws.write(".gitignore", ".ksbuild/\n")
    ws.doit()
    git(ws.root, "init", "-q")
    ws.write("components/lib/greeting.txt", "HELLO, edited by hand\n")
    commit_all(ws.root, "a stale derived file")
    ws.env["GITHUB_ACTIONS"] = "true"
    result = ws.doit("verify", "--patch", "fix.patch", check=False)
    assert result.returncode == 1
    assert "::error file=components/lib/greeting.txt,line=1,title=" in result.stdout
    assert "ksbuild verify: lib:upper: 1 problem(s)" in result.stdout
    git(ws.root, "apply", "fix.patch")
    assert ws.read("components/lib/greeting.txt") == "HELLO\n"
    (ws.root / "fix.patch").unlink()
    commit_all(ws.root, "the fix")
    assert ws.doit("verify").returncode == 0
