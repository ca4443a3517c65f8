"""Entries from a store are trusted for nothing; keys change with what changes outputs."""
import json

import pytest

from ksbuild.cache import entry as entries
from ksbuild.cache.digests import StatCache
from ksbuild.cache.key import action_key as key_of, explain_miss
from ksbuild.exec.pending import Pending
from ksbuild.model import ActionSpec

ACTION = ActionSpec(mnemonic="Gen", description="gen", argv=("gen",), inputs=(("in.txt", "app/in.txt"),),
                    outputs=(("mod/out.txt", "app/out.txt"),), output_dirs=(("mod/gen", "app/gen"),))
DIGEST = "ab" * 32


def encoded(outputs, dirs) -> bytes:
    return json.dumps({"format": 1, "outputs": outputs, "dirs": dirs}).encode()


def good_dirs(files=()):
    return [{"path": "app/gen", "files": list(files)}]


def test_a_valid_entry_maps_to_execution_paths():
    data = encoded([{"path": "app/out.txt", "digest": DIGEST, "size": 3, "mode": 0o644}],
                   good_dirs([{"name": "a/b.go", "digest": DIGEST, "size": 1, "mode": 0o755}]))
    files = entries.decode(data, ACTION)
    assert [(f.exec_path, f.workspace_path, f.mode) for f in files] == [
        ("mod/out.txt", "app/out.txt", 0o644), ("mod/gen/a/b.go", "app/gen/a/b.go", 0o755)]


@pytest.mark.parametrize("outputs, dirs, reason", [
    ([{"path": "/etc/passwd", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([{"path": "app/../../x", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([{"path": "app/other.txt", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([], good_dirs(), "does not hold every declared output"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     good_dirs([{"name": "../escape.go", "digest": DIGEST, "size": 1, "mode": 0o644}]), "not a plain relative path"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     good_dirs([{"name": "/abs.go", "digest": DIGEST, "size": 1, "mode": 0o644}]), "not a plain relative path"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     [{"path": "app/elsewhere", "files": []}], "does not match the declared output directories"),
    ([{"path": "app/out.txt", "digest": "not-hex", "size": 1, "mode": 0o644}], good_dirs(), "bad digest"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o4755}], good_dirs(), "bad digest, size or mode"),
])
def test_bad_entries_are_rejected(outputs, dirs, reason):
    with pytest.raises(entries.InvalidEntry, match=reason):
        entries.decode(encoded(outputs, dirs), ACTION)


def test_malformed_entries_are_rejected():
    for data in (b"not json", b"[]", json.dumps({"format": 99}).encode(), encoded("x", [])):
        with pytest.raises(entries.InvalidEntry):
            entries.decode(data, ACTION)


def test_keys_follow_inputs_commands_and_tools(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/in.txt").write_text("one\n")
    stat_cache = StatCache(str(tmp_path))
    (tmp_path / ".ksbuild").mkdir()
    workspace = Pending(str(tmp_path))  # nothing pending: inputs are read from the workspace

    def action_key(root, action, rule, tools, go, cache):
        return key_of(action, rule, tools, go, lambda path: workspace.digest(path, cache), workspace.source_dir)

    base = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    same = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert base.key == same.key
    other_tool = action_key(str(tmp_path), ACTION, "gen@1", {"gen": "cd" * 32}, ["go1.26", "linux-amd64"], stat_cache)
    other_rule = action_key(str(tmp_path), ACTION, "gen@2", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert len({base.key, other_tool.key, other_rule.key}) == 3
    assert explain_miss(base.record(), other_tool) == "no entry for this key; tools changed since the last run here"
    (tmp_path / "app/in.txt").write_text("two\n")
    changed = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert changed.key != base.key
    assert explain_miss(base.record(), changed) == "no entry for this key; input changed: app/in.txt"
