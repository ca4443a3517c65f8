"""The state files' one-entry-per-line format: updating a few entries rewrites only their lines and
gives exactly what writing the whole merged dictionary gives."""
import json

from ksbuild.state import update_json_lines, write_json


def is_text(value) -> bool:
    return isinstance(value, str)


def test_updating_entries_gives_the_bytes_of_writing_them_all(tmp_path):
    path, whole = tmp_path / "plans.json", tmp_path / "whole.json"
    update_json_lines(str(path), {"app:a": "1", "app:b": "2"}, is_text)
    update_json_lines(str(path), {"app:b": "3", 'odd ",\n key': "4"}, is_text)
    write_json(str(whole), {"app:a": "1", "app:b": "3", 'odd ",\n key': "4"}, lines=True)
    assert path.read_bytes() == whole.read_bytes()
    assert json.loads(path.read_text()) == {"app:a": "1", "app:b": "3", 'odd ",\n key': "4"}


def test_a_file_of_another_shape_is_read_checked_and_written_whole(tmp_path, capsys):
    path = tmp_path / "plans.json"
    path.write_text('{"app:a": "1", "app:b": 2}')  # not the lines format, and one entry of the wrong shape
    update_json_lines(str(path), {"app:c": "3"}, is_text)
    assert json.loads(path.read_text()) == {"app:c": "3"}  # the wrong one set the file aside (files.set_aside)
    assert (tmp_path / "plans.json.corrupt").read_text() == '{"app:a": "1", "app:b": 2}'


def test_an_empty_file_and_a_missing_one_take_the_entries(tmp_path):
    empty = tmp_path / "empty.json"
    write_json(str(empty), {}, lines=True)
    update_json_lines(str(empty), {"x": "1"}, is_text)
    update_json_lines(str(tmp_path / "missing.json"), {"x": "1"}, is_text)
    assert empty.read_text() == (tmp_path / "missing.json").read_text() == '{\n"x": "1"\n}\n'


def test_a_few_entries_are_read_from_the_text_and_a_bad_one_sets_the_file_aside(tmp_path, capsys):
    from ksbuild import state

    path = tmp_path / "outputs.json"
    entries = {f"app:t{i}": f"plan {i}" for i in range(500)} | {'odd ",\n key': "x"}
    write_json(str(path), entries, lines=True)
    assert state._read_some(str(path), ["app:t7", 'odd ",\n key', "app:missing"], is_text) == \
        {"app:t7": "plan 7", 'odd ",\n key': "x"}
    assert state._read_some(str(path), None, is_text) == entries
    state._READ.clear()
    path.write_text(path.read_text().replace('"app:t7": "plan 7"', '"app:t7": 7'))
    assert state._read_some(str(path), ["app:t8"], is_text) == {"app:t8": "plan 8"}  # a line not asked for
    assert state._read_some(str(path), ["app:t7"], is_text) == {}  # the bad one: the whole file is set aside
    assert (tmp_path / "outputs.json.corrupt").exists() and not path.exists()
    assert state._read_some(str(tmp_path / "missing.json"), ["app:t7"], is_text) == {}
