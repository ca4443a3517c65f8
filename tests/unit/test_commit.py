"""Committing outputs never writes through a link, and never makes a directory outside the workspace."""
from __future__ import annotations

import os

import pytest

from ksbuild.exec.commit import OutsideWorkspace, commit_files


@pytest.fixture
def box(tmp_path):
    (tmp_path / "box/app/gen").mkdir(parents=True)
    (tmp_path / "box/app/gen/o.txt").write_text("new\n")
    (tmp_path / "ws/app").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return tmp_path


def test_an_output_directory_that_links_out_is_refused_before_anything_is_made(box):
    os.symlink(box / "outside", box / "ws/app/gen")
    with pytest.raises(OutsideWorkspace, match="app/gen/sub/ leads to .*/outside/sub, outside the workspace"):
        commit_files(str(box / "ws"), str(box / "box"), [("app/gen/o.txt", "app/gen/sub/o.txt")])
    assert list((box / "outside").iterdir()) == []


def test_an_output_that_is_a_link_is_refused_and_its_target_untouched(box):
    (box / "outside/secret").write_text("secret\n")
    (box / "ws/app/gen").mkdir()
    os.symlink(box / "outside/secret", box / "ws/app/gen/o.txt")
    with pytest.raises(OutsideWorkspace, match="app/gen/o.txt is a symbolic link"):
        commit_files(str(box / "ws"), str(box / "box"), [("app/gen/o.txt", "app/gen/o.txt")])
    assert (box / "outside/secret").read_text() == "secret\n"


def test_missing_directories_are_made_and_an_unchanged_file_is_left_alone(box):
    commit_files(str(box / "ws"), str(box / "box"), [("app/gen/o.txt", "app/gen/deep/o.txt")])
    written = box / "ws/app/gen/deep/o.txt"
    assert written.read_text() == "new\n"
    os.utime(written, (1, 1))
    commit_files(str(box / "ws"), str(box / "box"), [("app/gen/o.txt", "app/gen/deep/o.txt")])
    assert written.stat().st_mtime == 1
    assert [p.name for p in written.parent.iterdir()] == ["o.txt"]
