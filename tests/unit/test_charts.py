"""ksbuild.charts: deterministic chart archives and the config and manifest Helm pushes."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from ksbuild.charts import ChartError, archive_name, chart_manifest, package_chart
from ksbuild.charts.oci import HELM_CHART_LAYER, HELM_CONFIG, created_from_epoch, helm_config_json
from ksbuild.charts.package import IgnoreRules, go_match_regex

CHART_YAML = """\
# The hello chart: comments, order and spacing must survive packaging.
apiVersion: v2
name: hello
description: Says hello <to> you & me
type: application

version: 0.1.0    # replaced at build time
appVersion: "1.16.0"
keywords: [hello, demo]
maintainers:
  - name: Ada
    email: ada@example.com
"""
VALUES = "image:\n  repository: ghcr.io/example/hello\n  tag: \"\"\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: hello
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
"""


def make_chart(root: Path, chart_yaml: str = CHART_YAML) -> Path:
    chart = root / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(chart_yaml)
    (chart / "values.yaml").write_text(VALUES)
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (chart / "templates" / "_helpers.tpl").write_text("{{/* nothing */}}\n")
    (chart / "hooks").mkdir()
    (chart / "hooks" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (chart / "hooks" / "run.sh").chmod(0o775)
    return chart


def members(archive: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmembers()


def read_member(archive: Path, name: str) -> str:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.extractfile(name).read().decode()


def test_same_chart_at_two_paths_gives_identical_bytes(tmp_path):
    first = make_chart(tmp_path / "one")
    second = make_chart(tmp_path / "elsewhere" / "two")
    os.utime(second / "values.yaml", (1_000_000, 1_000_000))
    (second / "templates").chmod(0o700)
    a = package_chart(str(first), str(tmp_path / "out-a"), "1.2.3", "1.2.3")
    b = package_chart(str(second), str(tmp_path / "out-b"), "1.2.3", "1.2.3")
    assert a == b
    data = (tmp_path / "out-a" / "hello-1.2.3.tgz").read_bytes()
    assert data == (tmp_path / "out-b" / "hello-1.2.3.tgz").read_bytes()
    assert a.size == len(data)
    import hashlib
    assert a.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    digest, size = a  # unpacks as (digest, size)
    assert (digest, size) == tuple(a)


def test_entries_sorted_owned_by_root_with_fixed_mtime_and_modes(tmp_path):
    chart = make_chart(tmp_path)
    package_chart(str(chart), str(tmp_path / "out"), "2.0.0", "v2.0.0", source_date_epoch=1_700_000_000)
    found = members(tmp_path / "out" / "hello-2.0.0.tgz")
    names = [m.name for m in found]
    assert names == sorted(names)
    assert names == ["hello", "hello/Chart.yaml", "hello/hooks", "hello/hooks/run.sh", "hello/templates",
                     "hello/templates/_helpers.tpl", "hello/templates/deployment.yaml", "hello/values.yaml"]
    for member in found:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == 1_700_000_000
        assert member.isdir() or member.isfile()
        expected = 0o755 if member.isdir() or member.name.endswith(".sh") else 0o644
        assert member.mode == expected, member.name


def test_gzip_header_has_no_time_and_no_name(tmp_path):
    chart = make_chart(tmp_path)
    package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    data = (tmp_path / "out" / "hello-1.0.0.tgz").read_bytes()
    assert data[:3] == b"\x1f\x8b\x08"
    flags, mtime = data[3], int.from_bytes(data[4:8], "little")
    assert flags & 0x08 == 0  # FNAME: no file name
    assert mtime == 0
    assert gzip.decompress(data)  # a valid stream


def test_chart_yaml_version_and_app_version_rewritten_rest_unchanged(tmp_path):
    chart = make_chart(tmp_path)
    package_chart(str(chart), str(tmp_path / "out"), "1.2.4-dev.3.gabcdef012345", "1.2.4-dev.3.gabcdef012345")
    text = read_member(tmp_path / "out" / "hello-1.2.4-dev.3.gabcdef012345.tgz", "hello/Chart.yaml")
    expected = CHART_YAML.replace("version: 0.1.0 ", "version: 1.2.4-dev.3.gabcdef012345 ") \
                         .replace('appVersion: "1.16.0"', 'appVersion: "1.2.4-dev.3.gabcdef012345"')
    assert text == expected
    assert (chart / "Chart.yaml").read_text() == CHART_YAML  # the source is never edited


def test_values_yaml_would_misread_are_quoted_and_missing_app_version_added(tmp_path):
    chart = make_chart(tmp_path, "apiVersion: v2\nname: hello\nversion: 0.1.0")
    package_chart(str(chart), str(tmp_path / "out"), "1.0", "true")
    text = read_member(tmp_path / "out" / "hello-1.0.tgz", "hello/Chart.yaml")
    assert text == 'apiVersion: v2\nname: hello\nversion: "1.0"\nappVersion: "true"\n'


def test_symlink_leading_out_is_refused(tmp_path):
    chart = make_chart(tmp_path / "c")
    (tmp_path / "secret.txt").write_text("secret\n")
    (chart / "templates" / "leak.yaml").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ChartError, match="symlink leading out"):
        package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    assert not (tmp_path / "out" / "hello-1.0.0.tgz").exists()


def test_symlink_inside_is_packaged_as_a_file_and_a_fifo_is_refused(tmp_path):
    chart = make_chart(tmp_path / "c")
    (chart / "values-copy.yaml").symlink_to("values.yaml")
    package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    found = {m.name: m for m in members(tmp_path / "out" / "hello-1.0.0.tgz")}
    assert found["hello/values-copy.yaml"].isfile()
    assert read_member(tmp_path / "out" / "hello-1.0.0.tgz", "hello/values-copy.yaml") == VALUES
    os.mkfifo(chart / "pipe")
    with pytest.raises(ChartError, match="not a regular file"):
        package_chart(str(chart), str(tmp_path / "out2"), "1.0.0", "1.0.0")


def test_helmignore_patterns(tmp_path):
    chart = make_chart(tmp_path)
    (chart / ".helmignore").write_text("# comments\n*.bak\n/docs/\nhooks/*.sh\n.git/\n")
    (chart / "old.bak").write_text("x")
    (chart / "templates" / "old.bak").write_text("x")
    (chart / "docs").mkdir()
    (chart / "docs" / "README.md").write_text("x")
    (chart / ".git").mkdir()
    (chart / ".git" / "HEAD").write_text("x")
    (chart / "templates" / ".hidden.yaml").write_text("x")  # Helm's default: templates/.?*
    package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    names = [m.name for m in members(tmp_path / "out" / "hello-1.0.0.tgz")]
    assert names == ["hello", "hello/.helmignore", "hello/Chart.yaml", "hello/templates",
                     "hello/templates/_helpers.tpl", "hello/templates/deployment.yaml", "hello/values.yaml"]


def test_go_match_semantics():
    assert go_match_regex("*.yaml") == "[^/]*\\.yaml"
    rules = IgnoreRules.parse(["templates/*.tpl", "[ab]?.txt"])
    assert rules.ignored("templates/x.tpl", False)
    assert not rules.ignored("templates/sub/x.tpl", False)  # '*' stops at '/'
    assert rules.ignored("deep/a1.txt", False)  # no '/': matched against the base name
    with pytest.raises(ChartError, match=r"\.helmignore:1"):
        IgnoreRules.parse(["a/**/b"])
    with pytest.raises(ChartError, match=r"\.helmignore:2"):
        IgnoreRules.parse(["ok", "[unclosed"])


def test_chart_without_version_or_bad_name_is_refused(tmp_path):
    chart = make_chart(tmp_path / "a", "apiVersion: v2\nname: hello\n")
    with pytest.raises(ChartError, match="no `version`"):
        package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    chart = make_chart(tmp_path / "b", "apiVersion: v2\nname: ../evil\nversion: 0.1.0\n")
    with pytest.raises(ChartError, match="not a chart name"):
        package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")


def test_config_and_manifest_are_helms_and_stable(tmp_path):
    chart = make_chart(tmp_path)
    package_chart(str(chart), str(tmp_path / "out"), "1.0.0", "1.0.0")
    archive = str(tmp_path / "out" / archive_name("hello", "1.0.0"))
    planned = chart_manifest(archive)
    assert planned.tag == "1.0.0"
    # Go's json.Marshal of chart.Metadata: struct order, empty fields left out, HTML escaped
    assert planned.config == (
        b'{"name":"hello","version":"1.0.0","description":"Says hello \\u003cto\\u003e you \\u0026 me",'
        b'"keywords":["hello","demo"],"maintainers":[{"name":"Ada","email":"ada@example.com"}],'
        b'"apiVersion":"v2","appVersion":"1.0.0","type":"application"}')
    manifest = json.loads(planned.manifest)
    assert manifest["config"]["mediaType"] == HELM_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [HELM_CHART_LAYER]
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "hello", "org.opencontainers.image.version": "1.0.0",
        "org.opencontainers.image.description": "Says hello <to> you & me",
        "org.opencontainers.image.authors": "Ada (ada@example.com)"}
    assert chart_manifest(archive).digest == planned.digest
    dated = json.loads(chart_manifest(archive, created_from_epoch(0)).manifest)
    assert dated["annotations"]["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"


def test_config_dependencies_keep_go_field_order():
    config = helm_config_json({"name": "x", "version": "1", "apiVersion": "v2",
                               "annotations": {"b": "2", "a": "1"},
                               "dependencies": [{"alias": "d", "name": "dep", "version": "1.0"}]})
    assert config == (b'{"name":"x","version":"1","apiVersion":"v2","annotations":{"a":"1","b":"2"},'
                      b'"dependencies":[{"name":"dep","version":"1.0","repository":"","alias":"d"}]}')
    with pytest.raises(ChartError, match="`description` is not a str"):
        helm_config_json({"name": "x", "version": "1", "description": 3})


def test_not_a_chart_archive(tmp_path):
    bad = tmp_path / "bad.tgz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("x/values.yaml")
        tar.addfile(info, io.BytesIO(b""))
    bad.write_bytes(buffer.getvalue())
    with pytest.raises(ChartError, match="no NAME/Chart.yaml"):
        chart_manifest(str(bad))
    (tmp_path / "junk.tgz").write_bytes(b"not gzip")
    with pytest.raises(ChartError, match="not a readable chart archive"):
        chart_manifest(str(tmp_path / "junk.tgz"))
