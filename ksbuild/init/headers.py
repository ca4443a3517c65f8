"""Which license header file the generators were given: the hack/boilerplate*.txt whose text is what
the committed generated files carry above their `// Code generated` line."""
from __future__ import annotations

import posixpath
import re

from ksbuild.init.repo import Repo


def candidates(repo: Repo, preferred: tuple[str, ...], named: str = "") -> list[str]:
    """Header files to try, most likely first: one a script names, then `preferred` names in hack/,
    then every hack/boilerplate*.txt."""
    found = [p for p in repo.files if p.startswith("hack/") and posixpath.basename(p).startswith("boilerplate")
             and p.endswith(".txt")]
    order = ([named] if named and repo.on_disk(named) else []) + [f"hack/{name}" for name in preferred] + sorted(found)
    return [p for p in dict.fromkeys(order) if repo.on_disk(p)]


def match(repo: Repo, header: str, generated: list[str], year_allowed: bool) -> tuple[bool, str]:
    """Whether every generated file carries `header`, and the year that replaced its ` YEAR` (controller-gen's
    `year=`; '' when there is none). Without `year_allowed` a header holding YEAR never matches: the
    generator would write the current year, which no committed file can keep matching."""
    text = repo.text(header)
    if text is None:
        return False, ""
    body = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if "YEAR" in body and not year_allowed:
        return False, ""
    pattern = re.escape(body).replace(re.escape(" YEAR"), r" (?P<year>\d{4}|)", 1).replace(
        re.escape(" YEAR"), " (?P=year)")
    years = set()
    for path in generated:
        found = re.fullmatch(pattern, _prelude(repo.text(path) or ""))
        if not found:
            return False, ""
        years.add(found.groupdict().get("year") or "")
    return (len(years) == 1, years.pop()) if years else (False, "")


def _prelude(text: str) -> str:
    """What a generated Go file holds before its `// Code generated` line, build constraints dropped."""
    head = text.split("// Code generated", 1)[0]
    lines = [line.rstrip() for line in head.splitlines() if not line.startswith(("//go:build", "// +build"))]
    return "\n".join(lines).strip()
