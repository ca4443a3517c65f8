"""The BUILD.yaml and workspace.yaml reference, generated from the field tables.

    python -m ksbuild.docs            print it
    python -m ksbuild.docs --write    refresh the README section between the markers
"""
from __future__ import annotations

import sys
from pathlib import Path

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m ksbuild.docs --write) -->"
END = "<!-- END GENERATED REFERENCE -->"


def _table(fields) -> list[str]:
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for field in fields:
        rows.append(f"| `{field.name}` | {field.kind_text} | {'yes' if field.required else ''} | {field.doc} |")
    return rows


def reference() -> str:
    from ksbuild.loader.buildfile import BUILD_FIELDS
    from ksbuild.loader.workspace import CACHE_FIELDS, COMPONENT_FIELDS, PUBLISH_FIELDS, TOOL_FIELDS, WORKSPACE_FIELDS
    from ksbuild.rules import COMMON_FIELDS, FORMAT_FIELDS, RULES
    from ksbuild.versioning.declare import ARTIFACT_FIELDS, REFERENCE_FIELDS

    lines = ["#### workspace.yaml", "", *_table(WORKSPACE_FIELDS), "", "Each component:", "",
             *_table(COMPONENT_FIELDS), "", "Each tool pin (`tools:`, and a component's `tools:`):", "",
             *_table(TOOL_FIELDS), "", "`cache:`", "", *_table(CACHE_FIELDS), "",
             "`publish:`", "", *_table(PUBLISH_FIELDS), "",
             "#### BUILD.yaml", "", *_table(BUILD_FIELDS), "",
             "Each artifact:", "", *_table(ARTIFACT_FIELDS), "", "Each reference:", "", *_table(REFERENCE_FIELDS), "",
             "Every target:", "", *_table(COMMON_FIELDS), "", "Each `format:` step:", "", *_table(FORMAT_FIELDS), ""]
    for name in sorted(RULES):
        rule = RULES[name]
        lines += [f"##### rule `{name}` (version {rule.version})", "", rule.doc, "", *_table(rule.fields), ""]
    return "\n".join(lines).rstrip() + "\n"


def readme_section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    if "--write" not in argv:
        sys.stdout.write(reference())
        return 0
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + reference() + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
