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
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")
