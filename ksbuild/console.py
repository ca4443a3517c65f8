"""What a person sees: colour on a terminal only (never with NO_COLOR), and the run record's file.
Light to import: the no-op fast path prints through it."""
from __future__ import annotations

import os
import sys

RED, GREEN, CYAN = "31", "32", "36"
COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str) -> str:
    return f"\033[{colour}m{text}\033[0m" if COLOUR else text


def write_run_record(path: str, head: dict | str, tasks: list[dict] | None = None, body: str = "") -> None:
    """`.ksbuild/last-run.json`: JSON with one task per line, readable, written by json's fast encoder
    (`head` and `body` may come rendered already, as the no-op fast path keeps them)."""
    from ksbuild.files import write_atomically

    if not isinstance(head, str) or not body:
        import json

        head = head if isinstance(head, str) else json.dumps(head)
        body = body or ",\n  ".join(json.dumps(task) for task in tasks or ())
    write_atomically(path, (head[:-1] + ',\n "tasks": [\n  ' + body + "\n ]\n}\n").encode())
