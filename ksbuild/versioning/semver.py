"""SemVer 2 parsing and precedence, and the development versions ksbuild derives between tags.

An exactly tagged, clean commit `vX.Y.Z[-PRE]` has version `X.Y.Z[-PRE]`. Any other commit gets

    after a release X.Y.Z:          X.Y.(Z+1)-dev.N.gSHA
    after a pre-release X.Y.Z-PRE:  X.Y.Z-PRE.dev.N.gSHA
    with no tag at all:             0.0.0-dev.N.gSHA

where N is the number of commits since the tag (since the root without one) and SHA the commit's
first 12 hex digits, and `.dirty` is appended when the working tree has uncommitted changes. Each
is valid SemVer 2 (Helm needs that), a valid OCI tag (no `+`), unique per commit, and sorts after
the tag it follows and before the next release. A dirty version is never published.

Ordering (`ORDERING`, `Version.sort_key`) decides which release is the latest and which tag a
development version follows. It is SemVer 2 precedence with one refinement: an alphanumeric
pre-release identifier made of letters then digits (`rc17`, `alpha3`, `beta10`; hyphens count as
letters) compares by its letters, then by its number as a number, then (only to break ties such as
`rc01` and `rc1`) as text. So `rc9 < rc10 < rc17` and `alpha2 < beta1 < rc1` as projects mean them,
where plain SemVer compares `rc9` and `rc17` as text and puts `rc17` first. Everything else is
plain SemVer: numeric identifiers numerically and before alphanumeric ones (`rc.9 < rc.17`), other
identifiers as ASCII text, a shorter list of identifiers before a longer one it begins, a release
after its pre-releases. The order is total, so the latest of any set of tags is well defined, and
development versions still sort between their tag and the next one (`0.2.0-rc9 <
0.2.0-rc9.dev.3.gSHA < 0.2.0-rc10`). Tools that use plain SemVer (Helm's version ranges) may still
order `rc9`/`rc17` the other way; `rc.17` style tags mean the same under both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                     r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
_NUMBERED = re.compile(r"^([A-Za-z-]+)([0-9]+)$")  # an identifier such as rc17: letters, then a number
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIRTY = "dirty"
ORDERING = "SemVer precedence, with numbered identifiers like rc17 compared by number (rc9 < rc10 < rc17)"


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
        """The order described by `ORDERING`: a total order, so sorted() and max() are deterministic."""
        fields = tuple(_identifier_key(p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, fields)


def _identifier_key(identifier: str) -> tuple:
    """Numeric identifiers first, by value; `rc17` by ("rc", 17); any other identifier by its text."""
    if identifier.isdigit():
        return (0, "", int(identifier), "")
    numbered = _NUMBERED.match(identifier)
    if numbered:
        return (1, numbered.group(1), int(numbered.group(2)), identifier)
    return (1, identifier, -1, identifier)


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
