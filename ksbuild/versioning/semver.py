"""SemVer 2 parsing and precedence, and the development versions ksbuild derives between tags.

An exactly tagged, clean commit `vX.Y.Z[-PRE]` has version `X.Y.Z[-PRE]`. Any other commit gets

    after a release X.Y.Z:          X.Y.(Z+1)-dev.N.gSHA
    after a pre-release X.Y.Z-PRE:  X.Y.Z-PRE.dev.N.gSHA
    with no tag at all:             0.0.0-dev.N.gSHA

where N is the number of commits since the tag (since the root without one) and SHA the commit's
first 12 hex digits, and `.dirty` is appended when the working tree has uncommitted changes. Each
is valid SemVer 2 (Helm needs that), a valid OCI tag (no `+`), unique per commit, and sorts after
the tag it follows and before the next release. A dirty version is never published.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                     r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIRTY = "dirty"


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(self.pre) if self.pre else "")

    @property
    def dirty(self) -> bool:
        return self.pre[-1:] == (DIRTY,)

    def sort_key(self):
        """SemVer precedence: a release sorts after its pre-releases; numeric fields numerically."""
        fields = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, fields)


def parse(text: str) -> Version | None:
    match = _SEMVER.match(text)
    if not match or match.group(5):
        return None
    pre = tuple(match.group(4).split(".")) if match.group(4) else ()
    return Version(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre)


def development(last: Version | None, commits_since: int, sha: str, dirty: bool) -> Version:
    extra = ("dev", str(commits_since), "g" + sha[:12]) + ((DIRTY,) if dirty else ())
    if last is None:
        return Version(0, 0, 0, extra)
    if last.pre:
        return Version(last.major, last.minor, last.patch, last.pre + extra)
    return Version(last.major, last.minor, last.patch + 1, extra)
