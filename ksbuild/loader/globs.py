"""Globs over '/'-separated workspace paths: `*`, `?`, `[...]`, and `**` for any depth."""
from __future__ import annotations

import re

GLOB_CHARS = re.compile(r"[*?\[]")


def reaches(prefix: str, owned: str, recursive: bool) -> bool:
    """Whether a glob whose fixed part is `prefix` can match files in the owned directory."""
    return (prefix + "/").startswith(owned) or (recursive and owned.startswith(prefix + "/"))


def glob_regex(pattern: str) -> re.Pattern:
    """A glob (with `**` for any depth) as a regular expression over '/'-separated paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            bracket, i = _bracket(pattern, i)
            out.append(bracket)
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """`[...]` at `start` as a regular expression, and where the pattern goes on. Never an invalid or
    ambiguous expression whatever the text: members are escaped one by one, a reversed range such as
    `z-a` is empty (as in fnmatch), `[!...]`/`[^...]` negate but never match '/', a `]` first is a
    member, and a `[` that is never closed is itself."""
    at = start + 1
    negate = at < len(pattern) and pattern[at] in "!^"
    at += negate
    end = pattern.find("]", at + 1 if at < len(pattern) and pattern[at] == "]" else at)
    if end < 0:
        return re.escape("["), start + 1
    body, members, k = pattern[at:end], [], 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low <= high:
                members.append(f"{re.escape(low)}-{re.escape(high)}")
            k += 3
        else:
            members.append(re.escape(body[k]))
            k += 1
    if negate:
        return "[^/" + "".join(members) + "]", end + 1
    return ("[" + "".join(members) + "]" if members else "(?!)"), end + 1
