"""The import section of a Go source file, read without a Go toolchain: enough of Go's lexical
rules (comments, interpreted and raw strings, `;`) to list `import` paths and their lines, and to
stop at the first declaration that is not an import. Files are read in growing chunks, so a large
file costs only its header.
"""
from __future__ import annotations

import ast
import codecs
import re

FIRST_READ = 4096  # bytes; a license header and an import block usually fit
MAX_HEADER = 1 << 20  # an import section that does not end within 1 MiB is reported, not read on


_SPACE = r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*+"  # possessive: no backtracking, whatever the input
_SKIP = re.compile(_SPACE, re.S)
_TOKEN = re.compile(_SPACE + r"""                     # white space and comments, then the token
    (?: (?P<ident>[^\W\d]\w*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
      | (?P<punct>[;().])
      | (?P<end>\Z) )
""", re.S | re.X)


class _NeedMore(Exception):
    """The text read so far ends inside the import section."""


def read_imports(path_abs: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """The import paths of one Go file with their lines, read only up to the end of its import
    section; and (line, message) when the file cannot be read or decoded or is malformed there
    (the imports before the fault are still returned)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    text, size = "", FIRST_READ
    try:
        with open(path_abs, "rb") as handle:
            while True:
                chunk = handle.read(size)
                eof = len(chunk) < size
                try:
                    text += decoder.decode(chunk, final=eof)
                except UnicodeDecodeError as err:
                    line = text.count("\n") + chunk[:err.start].count(b"\n") + 1
                    return _parse(text, True, partial=True)[0], (line, "not valid UTF-8")
                try:
                    return _parse(text, eof)
                except _NeedMore:
                    if len(text) >= MAX_HEADER:
                        return _parse(text, True, partial=True)[0], (
                            text.count("\n") + 1, f"the import section does not end in the first {MAX_HEADER} bytes")
                    size = len(text)  # read as much again
    except OSError as err:
        return [], (0, f"cannot read: {err.strerror}")


def parse_imports(text: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """`read_imports` for a whole file's text."""
    return _parse(text, True)


def _tokens(text: str, eof: bool):
    """(kind, text, offset) of each token; kind None at the end, "bad" for what is not Go here."""
    pos, end_of_text, match = (1 if text.startswith("\ufeff") else 0), len(text), _TOKEN.match
    while True:
        if pos >= end_of_text:
            if not eof:
                raise _NeedMore
            yield None, "", pos
            return
        found = match(text, pos)
        if found is None or (found.end() == end_of_text and not eof):
            if not eof:
                raise _NeedMore  # an unterminated comment or string, or a token that may go on
            pos = _SKIP.match(text, pos).end()
            yield "bad", text[pos], pos
            return
        kind = found.lastgroup
        start = found.start(kind)
        if kind == "end":
            yield None, "", start
            return
        yield kind, found.group(kind), start
        pos = found.end()


def _parse(text: str, eof: bool, partial: bool = False):
    """(imports, error); `partial`: the text is cut short, so its end is not reported."""
    imports: list[tuple[str, int]] = []

    def line_at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def fail(offset: int, message: str):
        return imports, (None if partial else (line_at(offset), message))

    tokens = _tokens(text, eof)
    kind, value, pos = next(tokens)
    if (kind, value) != ("ident", "package"):
        return fail(pos, "expected the package clause (`package name`) first")
    kind, value, pos = next(tokens)
    if kind != "ident":
        return fail(pos, "expected a package name after `package`")
    kind, value, pos = next(tokens)
    while True:
        if kind == "punct" and value == ";":
            kind, value, pos = next(tokens)
            continue
        if (kind, value) != ("ident", "import"):
            return imports, None  # the end of the import section
        kind, value, pos = next(tokens)
        grouped = (kind, value) == ("punct", "(")
        if grouped:
            kind, value, pos = next(tokens)
        while True:
            if grouped and kind == "punct" and value in ";)":
                if value == ")":
                    kind, value, pos = next(tokens)
                    break
                kind, value, pos = next(tokens)
                continue
            spec = pos
            if kind == "ident" or (kind, value) == ("punct", "."):
                kind, value, pos = next(tokens)  # the package name: `name`, `_` or `.`
            if kind != "string":
                return fail(spec, "malformed import declaration: expected an import path string"
                            if kind else "the file ends inside an import declaration")
            path = _unquote(value)
            if path is None:
                return fail(pos, f"malformed import path {value}")
            imports.append((path, line_at(pos)))
            kind, value, pos = next(tokens)
            if not grouped:
                break


def _unquote(literal: str) -> str | None:
    if literal[0] == "`" or "\\" not in literal:
        return literal[1:-1]
    try:
        value = ast.literal_eval(literal)  # Go's escapes in an import path are Python's too
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


# explaining a Go tool's failure --------------------------------------------------------------------
