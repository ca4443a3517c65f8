import pytest

from ksbuild.errors import ConfigError
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
