import pytest

from ksbuild.errors import ConfigError
from ksbuild.loader import yamlfile
from ksbuild.loader.yamlfile import parse


def test_lines_of_keys_and_items():
    data = parse("a: 1\nb:\n  - x\n  - y\nc: {d: 2}\n", "f.yaml")
    assert data == {"a": 1, "b": ["x", "y"], "c": {"d": 2}}
    assert data.lines == {"a": 1, "b": 2, "c": 5}
    assert data["b"].lines == [3, 4]
    assert data["c"].line == 5


def test_empty_file_is_an_empty_mapping():
    assert parse("", "f.yaml") == {}


def test_duplicate_key_names_both_lines():
    with pytest.raises(ConfigError) as err:
        parse("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert str(err.value).startswith("f.yaml:3: duplicate key 'a' (first at line 1)")


def test_syntax_error_has_file_and_line():
    with pytest.raises(ConfigError) as err:
        parse("targets:\n  a: [\n", "BUILD.yaml")
    assert "BUILD.yaml:3: YAML syntax error" in str(err.value)


BOMB = "".join(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['x'] * 9)}]\n"
               for prev, name in zip(["", "a", "b", "c", "d", "e", "f"], "abcdefg"))


def test_an_alias_bomb_deep_nesting_and_bad_bytes_are_refused_with_their_line(tmp_path):
    assert len(BOMB) < 300  # 9**7 nodes once expanded: refused on the event stream, before any tree
    with pytest.raises(ConfigError) as err:
        yamlfile.parse(BOMB, "BUILD.yaml")
    assert str(err.value).startswith("BUILD.yaml:6: refused: YAML expands to more than 100000 nodes")
    with pytest.raises(ConfigError) as err:
        yamlfile.parse("a: " + "[" * 3000 + "]" * 3000 + "\n", "BUILD.yaml")
    assert "refused: YAML nested too deep" in str(err.value)
    path = tmp_path / "workspace.yaml"
    path.write_bytes(b"components:\n  x:\n    path: \xff\n")
    with pytest.raises(ConfigError) as err:
        yamlfile.load(str(path), "workspace.yaml")
    assert str(err.value).startswith("workspace.yaml:3: not UTF-8 text (byte 0xff)")
