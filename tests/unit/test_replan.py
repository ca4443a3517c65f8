"""Re-planning what an edit touches (loader.replan): after each kind of edit the graph is the one a
whole planning gives, and only the touched components were planned again."""
import pytest

from ksbuild.errors import ConfigError
from ksbuild.loader import graph as graph_module
from ksbuild.loader.graph import load_graph
from ksbuild.loader.plancache import load_graph_cached
from tests.conftest import age

WORKSPACE = "components:\n" + "".join(f"  {name}:\n    path: {name}\n" for name in ("lib", "app", "docs"))
LIB = """\
targets:
  greeting:
    rule: command
    srcs: [greeting.in]
    outs: [greeting.txt]
    cmd: [sh, -c, "cat greeting.in > greeting.txt"]
"""
APP = """\
targets:
  banner:
    rule: command
    srcs: ["//lib:greeting", banner.in]
    outs: [banner.txt]
    cmd: [sh, -c, "cat ../lib/greeting.txt banner.in > banner.txt"]
  copy:
    rule: copy
    srcs: [":banner"]
    to: [copied]
"""
DOCS = """\
targets:
  index:
    rule: command
    srcs: ["pages/*.md"]
    outs: [index.txt]
    cmd: [sh, -c, "cat pages/*.md > index.txt"]
"""


@pytest.fixture
def ws(workspace):
    for path, text in {"workspace.yaml": WORKSPACE, "lib/BUILD.yaml": LIB, "lib/greeting.in": "hi\n",
                       "app/BUILD.yaml": APP, "app/banner.in": "b\n", "docs/BUILD.yaml": DOCS,
                       "docs/pages/a.md": "a\n"}.items():
        workspace.write(path, text)
    age(workspace.root)
    load_graph_cached(str(workspace.root))  # the cached graph the edits are judged against
    return workspace


@pytest.fixture
def planned(monkeypatch):
    """Targets planned (not kept) by the next load."""
    seen = []
    original = graph_module._Planner._plan

    def spy(self, target, dep_outputs):
        seen.append(target.label.task)
        return original(self, target, dep_outputs)

    monkeypatch.setattr(graph_module._Planner, "_plan", spy)
    return seen


def same_as_whole(ws, planned=None):
    """The graph re-planned from the cache, checked against a whole planning; and, into `planned`,
    only the targets the re-planning planned."""
    replanned = load_graph_cached(str(ws.root))
    if planned is not None:
        planned.append("-")
    whole = load_graph(str(ws.root))
    assert list(replanned.plans) == list(whole.plans)
    for task, plan in whole.plans.items():
        assert replanned.plans[task] == plan and replanned.plans[task].digest == plan.digest, task
    assert replanned.watched == whole.watched
    assert replanned.memo.claims == whole.memo.claims and replanned.memo.watched_by == whole.memo.watched_by
    return replanned


def test_a_comment_keeps_every_plan(ws, planned):
    ws.write("app/BUILD.yaml", APP + "# a note\n")
    same_as_whole(ws, planned)
    assert planned[:planned.index("-")] == []


def test_an_edited_target_is_planned_again_alone(ws, planned):
    ws.write("app/BUILD.yaml", APP.replace("banner.in > banner.txt", "banner.in banner.in > banner.txt"))
    graph = same_as_whole(ws, planned)
    assert planned[:planned.index("-")] == ["app:banner"]  # app:copy is declared exactly as before
    assert "banner.in banner.in" in " ".join(graph.plans["app:banner"].actions[0].argv)


def test_a_target_whose_lines_moved_is_planned_again_too(ws, planned):
    ws.write("app/BUILD.yaml", APP.replace("    outs: [banner.txt]\n", "    outs:\n      - banner.txt\n"))
    same_as_whole(ws, planned)
    assert planned[:planned.index("-")] == ["app:banner", "app:copy"]


def test_an_edit_beside_a_changed_glob_plans_the_whole_component(ws, planned):
    more = "  more:\n    rule: command\n    srcs: [pages/a.md]\n    outs: [more.txt]\n    cmd: [sh, -c, \"{cmd}\"]\n"
    ws.write("docs/BUILD.yaml", DOCS + more.format(cmd="cat pages/a.md > more.txt"))
    age(ws.root / "docs")
    load_graph_cached(str(ws.root))
    planned.clear()
    ws.write("docs/BUILD.yaml", DOCS + more.format(cmd="cat pages/a.md pages/a.md > more.txt"))
    ws.write("docs/pages/b.md", "b\n")
    graph = same_as_whole(ws, planned)
    assert sorted(planned[:planned.index("-")]) == ["docs:index", "docs:more"]  # index is declared as
    # before, but what its glob lists changed
    assert graph.plans["docs:index"].inputs == ("docs/pages/a.md", "docs/pages/b.md")


def test_a_file_in_a_globbed_directory_replans_that_component(ws, planned):
    ws.write("docs/pages/b.md", "b\n")
    graph = same_as_whole(ws, planned)
    assert planned[:planned.index("-")] == ["docs:index"]
    assert graph.plans["docs:index"].inputs == ("docs/pages/a.md", "docs/pages/b.md")


def test_moved_outputs_plan_everything(ws, planned):
    ws.write("lib/BUILD.yaml", LIB.replace("greeting.txt", "hello.txt"))
    graph = same_as_whole(ws, planned)
    assert planned[:planned.index("-")][-4:] == ["lib:greeting", "app:banner", "app:copy", "docs:index"]
    assert "lib/hello.txt" in graph.plans["app:banner"].inputs  # the dependent saw the new output


def test_a_new_target_plans_everything(ws):
    ws.write("docs/BUILD.yaml", DOCS + "  more:\n    rule: command\n    srcs: [pages/a.md]\n    outs: [more.txt]\n"
             "    cmd: [sh, -c, \"cat pages/a.md > more.txt\"]\n")
    assert "docs:more" in same_as_whole(ws).plans


def test_an_edited_workspace_plans_everything(ws):
    ws.write("workspace.yaml", WORKSPACE + "# comment\n")
    same_as_whole(ws)


def test_a_problem_is_reported_as_a_whole_planning_reports_it(ws):
    ws.write("app/BUILD.yaml", APP.replace("//lib:greeting", "//lib:greting"))
    with pytest.raises(ConfigError) as replanned:
        load_graph_cached(str(ws.root))
    with pytest.raises(ConfigError) as whole:
        load_graph(str(ws.root))
    assert str(replanned.value) == str(whole.value) and "unknown target '//lib:greting'" in str(whole.value)
