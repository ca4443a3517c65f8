from types import SimpleNamespace

from ksbuild.cli.explain import plan_change, run_reason

PARTS = {"rule": "command@1", "tools": "t", "command": "c", "inputs": "i", "outputs": "o", "layout": "l"}


def previous(**changes):
    return {"parts": dict(PARTS, **changes), "inputs": ["a", "b"]}


def test_never_built():
    assert plan_change(None, PARTS, ["a"]) == "never built here"


def test_each_part_has_its_reason():
    assert plan_change(previous(rule="command@0"), PARTS, ["a", "b"]) == "rule changed (command@0 -> command@1)"
    assert plan_change(previous(tools="old"), PARTS, ["a", "b"]) == "tool changed"
    assert plan_change(previous(command="old"), PARTS, ["a", "b"]) == "command changed"
    assert plan_change(previous(outputs="old"), PARTS, ["a", "b"]) == "declared outputs changed"


def test_inputs_added_and_removed_are_named():
    assert plan_change(previous(inputs="old"), PARTS, ["b", "c"]) == "input added: c; input removed: a"


def test_run_reasons(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "present").write_text("x")
    task = SimpleNamespace(meta={}, targets=["present", "gone"], dep_changed=["in"])
    assert run_reason(task) == "missing output: gone"
    task.targets = ["present"]
    assert run_reason(task) == "input changed: in"
    task.dep_changed = []
    assert run_reason(task) == "forced"
    task.meta = {"plan_change": "command changed"}
    assert run_reason(task) == "command changed"
