"""What CI does with verify's findings: a patch that `git apply` turns into the fix, and GitHub
Actions annotations (`::error file=…,line=…::…`) that put each finding on the pull request's lines."""
from __future__ import annotations

import difflib
import re

from ksbuild.verify.derived import TargetCheck

_WHERE = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+): (?P<message>.*)$")


def patch(checks: list[TargetCheck], prefix: str = "") -> tuple[str, list[str]]:
    """A git-style patch from what is committed to what the build produces, for every stale, missing
    or extra derived file; `prefix` is the workspace's path in its repository (`git rev-parse
    --show-prefix`). Returns the patch and the paths it could not hold (binary files)."""
    parts, skipped = [], []
    for finding in (f for c in checks for f in c.findings if f.kind in ("stale", "hand-edited", "missing", "extra")):
        old, new = finding.committed, finding.generated
        if b"\0" in (old or b"") or b"\0" in (new or b""):
            skipped.append(finding.path)
            continue
        path = prefix + finding.path
        header = [f"diff --git a/{path} b/{path}\n"]
        if old is None:
            header.append("new file mode 100644\n")
        elif new is None:
            header.append("deleted file mode 100644\n")
        old_lines = _lines(old)
        new_lines = _lines(new)
        body = list(difflib.unified_diff(old_lines, new_lines, "/dev/null" if old is None else f"a/{path}",
                                         "/dev/null" if new is None else f"b/{path}", n=3))
        parts.append("".join(header) + "".join(_terminated(line) for line in body))
    return "".join(parts), skipped


def _lines(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def _terminated(line: str) -> str:
    """A diff line; the last line of a file without a newline gets git's marker."""
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def annotations(checks: list[TargetCheck], extra) -> str:
    """GitHub Actions workflow commands, one per finding and per wrong reference."""
    lines = []
    for finding in (f for c in checks for f in c.findings):
        title = f"{finding.kind} derived file ({finding.target})"
        lines.append(_command(finding.path, 1, title, f"{finding.kind}: fix with {finding.fix}"))
    for name, message in extra:
        for text in message.splitlines():
            match = _WHERE.match(text)
            if match:
                lines.append(_command(match["file"], int(match["line"]), name, match["message"]))
            else:
                lines.append(f"::error title={_escape(name, True)}::{_escape(text)}")
    return "".join(line + "\n" for line in lines)


def _command(path: str, line: int, title: str, message: str) -> str:
    return f"::error file={_escape(path, True)},line={line},title={_escape(title, True)}::{_escape(message)}"


def _escape(text: str, property_value: bool = False) -> str:
    """Workflow-command escaping (actions/toolkit): %, CR, LF always; ':' and ',' in properties."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text
