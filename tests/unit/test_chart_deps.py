"""Chart dependencies read from Chart.yaml, and workspace.lock's sections."""
from __future__ import annotations

import pytest

from ksbuild.charts.deps import Dependency, oci_dependencies
from ksbuild.charts.package import ChartError
from ksbuild.loader.lockfile import read_section, write_section


def test_oci_dependencies_are_pinned_and_local_ones_left_alone():
    text = """\
apiVersion: v2
name: core
version: 0.1.0
dependencies:
  - name: kubeflex-operator
    version: 0.8.2
    repository: oci://ghcr.io/kubestellar/kubeflex/chart
  - name: local
    version: 1.0.0
    repository: file://../local
  - name: vendored
    version: 2.0.0
"""
    assert oci_dependencies(text, "chart/Chart.yaml") == [
        Dependency("kubeflex-operator", "0.8.2", "ghcr.io", "kubestellar/kubeflex/chart/kubeflex-operator")]
    assert oci_dependencies(text, "c")[0].key == "oci://ghcr.io/kubestellar/kubeflex/chart/kubeflex-operator:0.8.2"


@pytest.mark.parametrize("entry, message", [
    ("{name: x, version: ^1.2.0, repository: oci://ghcr.io/o}", "is not one exact version"),
    ("{name: x, version: 1.2.x, repository: oci://ghcr.io/o}", "is not one exact version"),
    ("{name: x, version: 1.2.0, repository: https://charts.example.org}", "is not an OCI registry"),
    ("{name: x, version: 1.2.0, repository: 'oci://ghcr.io/o -x'}", "is not an OCI registry"),
    ("{name: ../x, version: 1.2.0, repository: oci://ghcr.io/o}", "is not a chart name"),
    ("not-a-mapping", "is not a mapping"),
])
def test_dependencies_that_cannot_be_pinned_are_refused(entry, message):
    with pytest.raises(ChartError, match=message):
        oci_dependencies(f"name: c\nversion: 1.0.0\ndependencies:\n  - {entry}\n", "chart/Chart.yaml")


def test_writing_one_section_of_the_lock_keeps_the_others(tmp_path):
    write_section(str(tmp_path), "components", {"ocm": {"git": "https://example.org/ocm.git", "rev": "v1",
                                                        "commit": "a" * 40}})
    write_section(str(tmp_path), "charts", {"oci://ghcr.io/o/x:1.0.0": "sha256:" + "b" * 64})
    assert read_section(str(tmp_path), "components")["ocm"]["commit"] == "a" * 40
    assert read_section(str(tmp_path), "charts") == {"oci://ghcr.io/o/x:1.0.0": "sha256:" + "b" * 64}
    (tmp_path / "workspace.lock").write_text(": not yaml [")
    assert read_section(str(tmp_path), "charts") == {}
