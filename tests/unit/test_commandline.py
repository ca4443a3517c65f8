"""The command line's pure parts: labels, global options, exit codes."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ksbuild.cli.commandline import (UsageError, check_options, command_of, component_here, exit_code,
                                     split_globals, translate_labels)

TASKS = {"kubestellar:crds", "kubestellar:deepcopy", "ocm:chart", "build", "kubestellar", "ocm"}
COMPONENTS = {"kubestellar", "ocm"}


@pytest.mark.parametrize("words, here, expected", [
    (["//kubestellar:crds"], "", ["kubestellar:crds"]),
    ([":crds"], "kubestellar", ["kubestellar:crds"]),
    (["//ocm/..."], "", ["ocm"]),
    (["//..."], "", ["build"]),
    (["kubestellar:deepcopy", "-n", "2"], "", ["kubestellar:deepcopy", "-n", "2"]),
])
def test_labels_become_task_names(words, here, expected):
    assert translate_labels(words, "run", TASKS, COMPONENTS, here) == expected


def test_options_and_their_values_are_left_alone():
    assert translate_labels(["push", "//ocm:chart", "--registry", "127.0.0.1:5000"], "push", TASKS, COMPONENTS,
                            "") == ["push", "ocm:chart", "--registry", "127.0.0.1:5000"]


@pytest.mark.parametrize("word, message", [
    ("//kubestellar:crd", "no such target; did you mean kubestellar:crds"),
    ("//kubestelar/...", "no component 'kubestelar'; did you mean kubestellar"),
    (":crds", "the current directory is in none"),
    ("buidl", "no such target or command; did you mean build"),
])
def test_unknown_targets_are_usage_errors_with_the_nearest_names(word, message):
    with pytest.raises(UsageError, match=message):
        translate_labels([word], "run", TASKS, COMPONENTS, "")


def test_global_options_leave_the_arguments():
    args, env = split_globals(["-q", "verify", "--profile", "trace.json", "--junit", "x.xml"])
    assert args == ["verify", "--junit", "x.xml"]
    assert env["KSBUILD_QUIET"] == "1" and env["KSBUILD_PROFILE"].endswith("/trace.json")
    assert split_globals(["list", "-q"])[0] == ["list", "-q"]  # doit's own list -q
    with pytest.raises(UsageError):
        split_globals(["--profile"])


def test_commands_and_their_options():
    assert command_of(["-n", "2", "verify"]) == "verify"
    assert command_of(["kubestellar:crds"]) == "run"
    check_options("verify", ["verify", "--junit=x.xml", "--worktree"])
    with pytest.raises(UsageError, match="did you mean --junit"):
        check_options("verify", ["verify", "--junitt", "x"])


def test_one_exit_code_scheme():
    assert [exit_code(code) for code in (0, None, 1, 2, 3, 130)] == [0, 0, 1, 2, 2, 130]


def test_the_component_of_the_current_directory(tmp_path):
    components = [SimpleNamespace(name="kubestellar", path="components/kubestellar"),
                  SimpleNamespace(name="nested", path="components/kubestellar/sub")]
    assert component_here(str(tmp_path), str(tmp_path / "components/kubestellar/api"), components) == "kubestellar"
    assert component_here(str(tmp_path), str(tmp_path / "components/kubestellar/sub/x"), components) == "nested"
    assert component_here(str(tmp_path), str(tmp_path / "docs"), components) == ""
