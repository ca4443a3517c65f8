"""What `doit versions` prints (a table that fits 100 columns, details under each row) and its JSON."""
from __future__ import annotations

import json
import textwrap

WIDTH = 100


def text(graph, versions: dict, checks: list) -> str:
    """`versions`: component -> ComponentVersion; `checks`: check.ReferenceCheck, in declaration order."""
    lines = ["ARTIFACTS"]
    for artifact in graph.artifacts:
        if artifact.external:
            lines.append(_row(str(artifact.label), artifact.kind, artifact.versions[-1]))
            lines.append(_detail(f"external: {artifact.repository}, known versions {', '.join(artifact.versions)}"))
            continue
        version = versions[artifact.label.component]
        source = f"tag {version.tag}" if version.tag else "a development version" + (
            " (dirty: never published)" if version.dirty else "")
        lines.append(_row(str(artifact.label), artifact.kind, version.version))
        lines.append(_detail(f"from {source}; published as {artifact.repository}:{artifact.tag(version.version)}"))
    orderings = {getattr(v, "ordering", "") for v in versions.values()} - {""}
    lines += [textwrap.fill(f"(tags ordered by {ordering})", WIDTH) for ordering in sorted(orderings)]
    lines += ["", "REFERENCES"]
    for check in checks:
        lines.append(_row("OK" if check.ok else "WRONG", check.where))
        lines.append(_detail(f"{check.policy} {check.artifact}" + (f", agree: {check.agree}" if check.agree else "")))
        if check.ok:
            lines.append(_detail(f"says {check.found!r}" + (f" ({check.info})" if check.info else "")))
        else:
            lines.append(_detail(f"found {check.found!r}, expected {check.expected!r}: {check.message}"))
            if check.info:
                lines.append(_detail(check.info))
    wrong = sum(1 for c in checks if not c.ok)
    lines += ["", f"ksbuild versions: {len(checks)} reference(s), "
                  + (f"{wrong} wrong" if wrong else "every one right")]
    return "\n".join(lines) + "\n"


def as_json(graph, versions: dict, checks: list) -> str:
    artifacts = []
    for artifact in graph.artifacts:
        entry = {"artifact": str(artifact.label), "kind": artifact.kind, "repository": artifact.repository}
        if artifact.external:
            entry.update(external=True, version=artifact.versions[-1], released=list(artifact.versions))
        else:
            version = versions[artifact.label.component]
            entry.update(version=version.version, tag=artifact.tag(version.version), from_tag=version.tag,
                         dirty=version.dirty, released=list(version.released))
        artifacts.append(entry)
    return json.dumps({"ok": all(c.ok for c in checks), "artifacts": artifacts,
                       "references": [c.__dict__ for c in checks]}, indent=1) + "\n"


def _row(*cells: str) -> str:
    widths = (6,) if cells[0] in ("OK", "WRONG") else (44, 6)
    line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + "  " + cells[-1]
    return _fit(line.rstrip())


def _detail(text: str) -> str:
    """A detail under a row, wrapped to the width (never cut: it says what to fix)."""
    return textwrap.fill(text, WIDTH, initial_indent=" " * 8, subsequent_indent=" " * 10, break_long_words=False,
                         break_on_hyphens=False)


def _fit(line: str) -> str:
    """Cut a line to the width, keeping its end (a version, a tag) readable."""
    return line if len(line) <= WIDTH else line[:WIDTH - 3] + "..."
