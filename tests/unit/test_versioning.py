"""Version logic without git: SemVer precedence, development versions, locators, reference verdicts."""
import pytest

from ksbuild.model import Label
from ksbuild.versioning import locate, semver
from ksbuild.versioning.declare import Artifact, Reference
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


def test_verdicts():
    released = ("0.19.0", "0.20.0-rc1")
    assert judge(ref("tag"), CHART, "0.20.0-rc1", "0.20.0-rc1", released).ok
    assert not judge(ref("tag"), CHART, "v0.20.0-rc1", "x", released).ok
    missing_v = judge(ref("tag"), V_CHART, "0.20.0-rc1", "x", released)
    assert "published with a `v`: its tag is v0.20.0-rc1" in missing_v.message and missing_v.expected == "v0.20.0-rc1"
    assert judge(ref("image"), CHART, "ghcr.io/ks/chart:0.19.0", "x", released).ok
    assert "names repository 'ghcr.io/other'" in judge(ref("image"), CHART, "ghcr.io/other:0.19.0", "x", released).message
    assert "floating" in judge(ref("version"), CHART, "latest", "x", released).message
    stamped = judge(ref("image", "stamp"), CHART, "ghcr.io/ks/chart:0.19.0", "0.21.0-dev.1.gabc", released)
    assert stamped.expected == "ghcr.io/ks/chart:KSBUILD_VERSION" and "becomes ghcr.io/ks/chart:0.21.0-dev.1.gabc" \
        in stamped.message
    assert render("oci", CHART, "anything") == "oci://ghcr.io/ks/chart"
    assert render("v-version", V_CHART, "1.0.0") == "v1.0.0"
