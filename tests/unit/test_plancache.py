"""The plan cache: reused while nothing it was planned from changed, never after."""
import os

import pytest

import ksbuild.loader.graph
from ksbuild.errors import ConfigError
from ksbuild.loader.plancache import CACHE_FILE, load_graph_cached
from tests.conftest import age

BUILD = """\
targets:
  notes:
    rule: command
    srcs: ["notes/*.md", main.txt]
    outs: [notes.txt]
    cmd: [sh, -c, "cat notes/*.md > notes.txt"]
"""


@pytest.fixture
def ws(workspace):
    workspace.write("workspace.yaml", "components:\n  app:\n    path: app\n")
    workspace.write("app/BUILD.yaml", BUILD)
    workspace.write("app/main.txt", "m\n")
    workspace.write("app/notes/a.md", "a\n")
    age(workspace.root)
    return workspace


def planning_forbidden(monkeypatch):
    def fail(root):
        raise AssertionError("planned again although nothing changed")
    monkeypatch.setattr(ksbuild.loader.graph, "load_graph", fail)


def inputs(ws):
    return load_graph_cached(str(ws.root)).plans["app:notes"].inputs


def test_reused_while_nothing_changed(ws, monkeypatch):
    first = inputs(ws)
    assert (ws.root / CACHE_FILE).exists()
    planning_forbidden(monkeypatch)
    assert inputs(ws) == first == ("app/notes/a.md", "app/main.txt")


def test_a_file_added_to_a_globbed_directory_replans(ws):
    inputs(ws)
    ws.write("app/notes/b.md", "b\n")
    assert inputs(ws) == ("app/notes/a.md", "app/notes/b.md", "app/main.txt")


def test_an_edited_build_file_replans(ws):
    inputs(ws)
    ws.write("app/BUILD.yaml", BUILD.replace(', main.txt', ''))
    assert inputs(ws) == ("app/notes/a.md",)


def test_a_deleted_source_is_reported(ws):
    inputs(ws)
    (ws.root / "app/main.txt").unlink()
    with pytest.raises(ConfigError, match="srcs: file 'main.txt' does not exist"):
        inputs(ws)


def test_fresh_timestamps_are_not_trusted(ws):
    ws.write("app/notes/c.md", "c\n")  # the listing just changed: a later change could share its timestamp
    assert inputs(ws) == ("app/notes/a.md", "app/notes/c.md", "app/main.txt")
    assert (ws.root / CACHE_FILE).exists()  # written, with that directory marked as changed
    listed = os.stat(ws.root / "app/notes")
    ws.write("app/notes/d.md", "d\n")
    os.utime(ws.root / "app/notes", ns=(listed.st_atime_ns, listed.st_mtime_ns))  # within the same tick
    assert inputs(ws) == ("app/notes/a.md", "app/notes/c.md", "app/notes/d.md", "app/main.txt")


def test_a_moved_workspace_replans(ws, tmp_path):
    inputs(ws)
    moved = tmp_path / "moved"
    os.rename(ws.root, moved)
    graph = load_graph_cached(str(moved))
    assert graph.workspace.root == str(moved)


def test_a_corrupt_cache_is_ignored(ws):
    inputs(ws)
    (ws.root / CACHE_FILE).write_bytes(b"not a pickle")
    assert inputs(ws) == ("app/notes/a.md", "app/main.txt")
