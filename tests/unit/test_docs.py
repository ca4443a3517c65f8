from ksbuild import docs
from tests.conftest import REPO


def test_readme_reference_matches_the_field_tables():
    assert docs.readme_section((REPO / "README.md").read_text()) == docs.reference(), \
        "README's BUILD.yaml reference is stale: run `python -m ksbuild.docs --write`"


def test_reference_lists_every_rule_and_field():
    from ksbuild.rules import RULES

    text = docs.reference()
    for rule in RULES.values():
        assert f"rule `{rule.name}`" in text
        for field in rule.fields:
            assert f"| `{field.name}` |" in text
