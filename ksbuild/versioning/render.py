"""What a reference should say, and whether it does."""
from __future__ import annotations

from dataclasses import dataclass

from ksbuild.versioning import semver
from ksbuild.versioning.declare import Artifact, Reference

FLOATING = {"latest", "main", "master", "stable", "edge", "nightly", "dev"}


def render(form: str, artifact: Artifact, version: str) -> str:
    """The text naming `artifact` at `version` in the given form (a placeholder works as a version)."""
    return {"image": f"{artifact.repository}:{artifact.tag(version)}", "tag": artifact.tag(version),
            "version": version, "v-version": f"v{version}", "oci": f"oci://{artifact.repository}"}[form]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    expected: str
    message: str = ""  # what is wrong, when it is
    info: str = ""  # what is worth knowing when it is right


NO_RELEASE = "0.0.0"  # what `current` expects of an artifact that has no release yet


def judge(ref: Reference, artifact: Artifact, found: str, now) -> Verdict:
    """Is the committed value `found` right? `now` (check.ArtifactVersion): the artifact's version
    now, whether that is a release, and its released versions."""
    if ref.form == "oci":
        expected = render("oci", artifact, "")
        return Verdict(found == expected, expected, "" if found == expected else "names another repository")
    if ref.policy == "stamp":
        expected = render(ref.form, artifact, ref.placeholder)
        if found == expected:
            return Verdict(True, expected)
        return Verdict(False, expected, f"a stamped reference must hold the placeholder (it becomes "
                                        f"{render(ref.form, artifact, now.version)} in build outputs)")
    if ref.policy == "current":
        return _judge_current(ref, artifact, found, now)
    return _judge_pinned(ref, artifact, found, now.released)


def _judge_current(ref: Reference, artifact: Artifact, found: str, now) -> Verdict:
    """The artifact's current release: this commit's version when it is one, else the last release."""
    if now.release:
        expected, when = render(ref.form, artifact, now.version), f"this commit is release {now.version}"
    else:
        last = now.released[-1] if now.released else NO_RELEASE
        expected = render(ref.form, artifact, last)
        when = f"the last release is {last}" if now.released else "there is no release yet"
    info = "a release commit must name its own version here (commit the bump, then tag)"
    if found == expected:
        return Verdict(True, expected, info=info)
    return Verdict(False, expected, f"a `current` reference names the current release ({when}); {info}")


def bare_version(artifact: Artifact, form: str, value: str) -> str:
    """The version a value names, without its repository or tag prefix (to compare across forms)."""
    text = value.rpartition(":")[2] if form == "image" else value
    if form in ("tag", "image") and artifact.tag_prefix:
        text = text.removeprefix(artifact.tag_prefix)
    if form == "v-version":
        text = text.removeprefix("v")
    return text


def _judge_pinned(ref: Reference, artifact: Artifact, found: str, released: tuple[str, ...]) -> Verdict:
    newest = released[-1] if released else ""
    expected = render(ref.form, artifact, newest) if newest else f"a released version of {artifact.label}"
    text = found
    if ref.form == "image":
        repository, _, text = found.rpartition(":")
        if repository != artifact.repository:
            return Verdict(False, expected, f"names repository {repository or found!r}, not {artifact.repository}")
    bare = text
    if ref.form in ("tag", "image"):
        if artifact.tag_prefix and text.startswith(artifact.tag_prefix):
            bare = text[len(artifact.tag_prefix):]
        elif artifact.tag_prefix:
            return _prefix_mistake(ref, artifact, found, text, released, expected, missing=True)
        elif text.startswith("v") and semver.parse(text[1:]):
            return _prefix_mistake(ref, artifact, found, text, released, expected, missing=False)
    elif ref.form == "v-version":
        if not text.startswith("v"):
            return Verdict(False, expected, "the form is v-version, but the value has no `v`")
        bare = text[1:]
    if bare in FLOATING or semver.parse(bare) is None:
        return Verdict(False, expected, f"{text!r} is a floating or invalid tag; pin an exact released version")
    if bare not in released:
        shown = ", ".join(released[-5:]) or "none"
        return Verdict(False, expected, f"{bare} is not a released version of {artifact.label} (released: {shown})")
    return Verdict(True, found)


def _prefix_mistake(ref, artifact, found, text, released, expected, missing: bool) -> Verdict:
    bare = text if missing else text[1:]
    right = render(ref.form, artifact, bare)
    how = f"with a `{artifact.tag_prefix}`" if missing else "without a `v`"
    exists = " (that release exists)" if bare in released else ""
    return Verdict(False, right if bare in released else expected,
                   f"{artifact.label} is published {how}: its tag is {artifact.tag(bare)}{exists}, not {text}")
