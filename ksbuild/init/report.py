"""What init found and what it could not: one line each, with where it came from or what to do."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    def inferred(self, what: str, source: str) -> None:
        self.lines.append(("inferred", f"{what} (from {source})"))

    def fallback(self, what: str, why: str) -> None:
        self.lines.append(("default", f"{what} ({why})"))

    def missing(self, what: str, todo: str) -> None:
        self.lines.append(("not inferred", f"{what}: {todo}"))

    def note(self, text: str) -> None:
        self.lines.append(("note", text))

    def text(self) -> str:
        width = max((len(kind) for kind, _ in self.lines), default=0) + 1
        return "".join(f"  {kind + ':':<{width}} {text}\n" for kind, text in self.lines)
