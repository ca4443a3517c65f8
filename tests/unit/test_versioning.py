"""Version logic without git: SemVer precedence, development versions, locators, reference verdicts."""
import pytest

from ksbuild.model import Label
from ksbuild.versioning import locate, semver
from ksbuild.versioning.declare import Artifact, Reference
from ksbuild.versioning.check import ArtifactVersion
from ksbuild.versioning.render import judge, render

CHART = Artifact(Label("ks", "chart"), "chart", "ghcr.io/ks/chart")
V_CHART = Artifact(Label("osa", "chart"), "chart", "ghcr.io/osa/chart", tag_prefix="v")


def ref(form: str, policy: str = "pinned") -> Reference:
    return Reference("ks", "ks/f.yaml", "a", "", "//ks:chart", form, policy, "KSBUILD_VERSION", "ks/BUILD.yaml", 3)


def test_precedence_and_parsing():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
               "1.0.0"]
    assert sorted(ordered[::-1], key=lambda v: semver.parse(v).sort_key()) == ordered
    for bad in ("1.0", "01.0.0", "1.0.0+build", "v1.0.0", "latest", "1.0.0-01"):
        assert semver.parse(bad) is None, bad


def _ordered(versions):
    return sorted(versions, key=lambda v: semver.parse(v).sort_key())


def test_numbered_identifiers_compare_by_number():
    ordered = ["0.2.0-rc5", "0.2.0-rc9", "0.2.0-rc10", "0.2.0-rc17", "0.2.0"]
    assert _ordered(ordered[::-1]) == ordered
    assert _ordered(["0.2.0-rc.17", "0.2.0-rc.9", "0.2.0-rc.10"]) == ["0.2.0-rc.9", "0.2.0-rc.10", "0.2.0-rc.17"]
    assert max(["0.2.0-rc9", "0.2.0-rc17"], key=lambda v: semver.parse(v).sort_key()) == "0.2.0-rc17"


def test_letters_order_the_stages_and_a_release_follows_its_pre_releases():
    ordered = ["1.0.0-alpha", "1.0.0-alpha1", "1.0.0-alpha3", "1.0.0-alpha10", "1.0.0-beta1", "1.0.0-beta10",
               "1.0.0-rc", "1.0.0-rc1", "1.0.0-rc2", "1.0.0-rc17", "1.0.0", "1.0.1-alpha1"]
    assert _ordered(ordered[::-1]) == ordered
    # numeric identifiers still sort before alphanumeric ones; leading zeros are told apart, not equal
    assert _ordered(["1.0.0-rc1", "1.0.0-1"]) == ["1.0.0-1", "1.0.0-rc1"]
    assert _ordered(["1.0.0-rc1", "1.0.0-rc01", "1.0.0-rc2"]) == ["1.0.0-rc01", "1.0.0-rc1", "1.0.0-rc2"]
    keys = {semver.parse(v).sort_key() for v in ("1.0.0-rc1", "1.0.0-rc01", "1.0.0-rc-1", "1.0.0-rc1x")}
    assert len(keys) == 4, "distinct versions never compare equal"
    assert "rc17" in semver.ORDERING


def test_development_versions_sort_between_their_tag_and_the_next():
    sha = "abcdef0123456789abcd"
    after_rc9 = str(semver.development(semver.parse("0.2.0-rc9"), 3, sha, False))
    after_rc17 = str(semver.development(semver.parse("0.2.0-rc17"), 1, sha, True))
    after_release = str(semver.development(semver.parse("0.2.0"), 2, sha, False))
    assert after_rc9 == "0.2.0-rc9.dev.3.gabcdef012345"
    ordered = ["0.2.0-rc5", "0.2.0-rc9", after_rc9, "0.2.0-rc10", "0.2.0-rc17", after_rc17, "0.2.0", after_release,
               "0.2.1-rc1", "0.2.1"]
    assert _ordered(ordered[::-1]) == ordered
    assert _ordered(["0.2.0-rc9.dev.3.gabc", "0.2.0-rc9.dev.12.gabc"]) == ["0.2.0-rc9.dev.3.gabc",
                                                                          "0.2.0-rc9.dev.12.gabc"]
    for version in ordered:
        assert semver.parse(version) is not None and semver.OCI_TAG.match(version) and "+" not in version


def test_development_versions():
    sha = "0123456789abcdef0123"
    assert str(semver.development(None, 4, sha, False)) == "0.0.0-dev.4.g0123456789ab"
    assert str(semver.development(semver.parse("0.20.0-rc1"), 2, sha, True)) == "0.20.0-rc1.dev.2.g0123456789ab.dirty"
    assert str(semver.development(semver.parse("0.2.0"), 1, sha, False)) == "0.2.1-dev.1.g0123456789ab"
    assert semver.parse("0.2.1-dev.1.g0123456789ab.dirty").dirty


def test_locators_find_values_and_replace_only_them():
    text = "spec:\n  containers:\n  - name: x\n    image: 'quay.io/a:KSBUILD_VERSION'  # keep me\n"
    found = locate.locate(text, yaml_path="spec.containers[0].image")
    assert (found.value, found.line) == ("quay.io/a:KSBUILD_VERSION", 4)
    assert locate.replace(text, found, "quay.io/a:1.2.3") == text.replace("KSBUILD_VERSION", "1.2.3")
    assert locate.locate(text, regex=r"name: (?P<value>\w+)").value == "x"
    with pytest.raises(locate.NotFound, match=r"no spec\.containers\[1\] in the file"):
        locate.locate(text, yaml_path="spec.containers[1].image")


def now(version: str, released=("0.19.0", "0.20.0-rc1"), release: bool = False) -> ArtifactVersion:
    return ArtifactVersion(version, tuple(released), release)


def test_verdicts():
    assert judge(ref("tag"), CHART, "0.20.0-rc1", now("0.20.0-rc1")).ok
    assert not judge(ref("tag"), CHART, "v0.20.0-rc1", now("x")).ok
    missing_v = judge(ref("tag"), V_CHART, "0.20.0-rc1", now("x"))
    assert "published with a `v`: its tag is v0.20.0-rc1" in missing_v.message and missing_v.expected == "v0.20.0-rc1"
    assert judge(ref("image"), CHART, "ghcr.io/ks/chart:0.19.0", now("x")).ok
    assert "names repository 'ghcr.io/other'" in judge(ref("image"), CHART, "ghcr.io/other:0.19.0", now("x")).message
    assert "floating" in judge(ref("version"), CHART, "latest", now("x")).message
    stamped = judge(ref("image", "stamp"), CHART, "ghcr.io/ks/chart:0.19.0", now("0.21.0-dev.1.gabc"))
    assert stamped.expected == "ghcr.io/ks/chart:KSBUILD_VERSION" and "becomes ghcr.io/ks/chart:0.21.0-dev.1.gabc" \
        in stamped.message


def test_current_names_this_release_or_the_last_one():
    at_tag = now("0.20.0-rc1", release=True)
    assert judge(ref("version", "current"), CHART, "0.20.0-rc1", at_tag).ok
    after = now("0.20.0-rc1.dev.3.gabc")
    assert judge(ref("version", "current"), CHART, "0.20.0-rc1", after).ok
    old = judge(ref("version", "current"), CHART, "0.19.0", after)
    assert not old.ok and old.expected == "0.20.0-rc1" and "the last release is 0.20.0-rc1" in old.message
    fresh = judge(ref("v-version", "current"), CHART, "v0.0.0", now("0.0.0-dev.4.gabc", released=()))
    assert fresh.ok and fresh.expected == "v0.0.0"


    assert render("oci", CHART, "anything") == "oci://ghcr.io/ks/chart"
    assert render("v-version", V_CHART, "1.0.0") == "v1.0.0"
