"""The two kinds of error: a bad definition is raised at load time; a failed run is returned."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition: where, what, and what to do about it."""

    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.message}"
        return f"{text}\n    {self.hint}" if self.hint else text


class ConfigError(Exception):
    """workspace.yaml or a BUILD.yaml is wrong; nothing has run. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, file: str, line: int, message: str, hint: str = "") -> "ConfigError":
        return cls([Problem(file, line, message, hint)])


class Problems:
    """Collects problems so that one load reports all of them, not just the first."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, line: int, message: str, hint: str = "") -> None:
        self.items.append(Problem(file, line, message, hint))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)
