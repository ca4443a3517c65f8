"""The bundled constellation builds from a copy, reproduces its committed derived files, and
shows the seed's components in its graph."""
import filecmp
import shutil

import pytest

from tests.conftest import Workspace, copy_constellation


@pytest.fixture
def constellation(tmp_path) -> Workspace:
    return copy_constellation(tmp_path / "somewhere" / "unrelated")


def test_builds_and_reproduces_committed_files(constellation):
    committed = constellation.root.parent / "committed"
    shutil.copytree(constellation.root / "components", committed)
    constellation.doit()
    assert constellation.executed(), "a fresh clone has no build record: every target runs"
    comparison = filecmp.dircmp(committed, constellation.root / "components")
    assert _differences(comparison) == []
    constellation.doit()
    assert constellation.executed() == set()


def test_graph_shows_the_components(constellation):
    mermaid = constellation.doit("graph").stdout
    for component in ("kubestellar", "ocm-status-addon", "clusteradm-image"):
        assert f'["{component}"]' in mermaid


def _differences(comparison: filecmp.dircmp) -> list[str]:
    found = [f"{comparison.right}/{name}" for name in comparison.diff_files + comparison.left_only
             + comparison.right_only]
    for sub in comparison.subdirs.values():
        found += _differences(sub)
    return found
