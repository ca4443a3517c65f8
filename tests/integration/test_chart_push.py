"""Charts packaged by ksbuild and pushed with `ksbuild.charts.push_chart` to Debian's
docker-registry on 127.0.0.1; skopeo reads the manifest, and the pinned helm v4 (tests.helm) pulls,
templates and lints what was pushed and pushes the same archive itself as an oracle for the config
bytes."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ksbuild.charts import HELM_CHART_LAYER, HELM_CONFIG, package_chart, push_chart
from ksbuild.images.oci import OCI_MANIFEST
from ksbuild.registry import Registry, RegistryError
from tests.helm import helm, helm_binary
from tests.registry_server import docker_registry

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
                                 reason="needs docker-registry and skopeo (.ci/setup installs them)")]

NEEDS_HELM = pytest.mark.skipif(helm_binary() is None, reason="the pinned helm is not in the tool store: "
                                "`doit tool:helm` installs it (`doit` does, for the constellation)")

CHART_YAML = """\
apiVersion: v2
name: hello
description: The hello service
type: application
version: 0.0.0  # stamped
appVersion: "0.0.0"
"""
VALUES = "image:\n  repository: ghcr.io/example/hello\n  tag: \"\"\nreplicas: 1\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-hello
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
        - name: hello
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
"""
VERSION = "1.2.3"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with docker_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


def make_chart(root: Path, values: str = VALUES) -> Path:
    chart = root / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML)
    (chart / "values.yaml").write_text(values)
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    return chart


def packaged(root: Path, values: str = VALUES, version: str = VERSION) -> Path:
    package_chart(str(make_chart(root / "src", values)), str(root / "out"), version, version)
    return root / "out" / f"hello-{version}.tgz"


def raw_manifest(host: str, repository: str, tag: str) -> bytes:
    result = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repository}:{tag}"],
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_push_shows_helm_media_types_and_is_idempotent(registry, tmp_path):
    archive = packaged(tmp_path)
    with Registry(registry.host, insecure=True) as client:
        first = push_chart(client, "charts/hello", str(archive))
        assert (first.status, first.tag, first.uploaded) == ("pushed", VERSION, 2)
        assert client.requests["PUT"] == 3  # two blobs, then the tag
        again = push_chart(client, "charts/hello", str(archive))
        assert (again.status, again.digest, again.uploaded) == ("unchanged", first.digest, 0)
        assert (client.requests["PUT"], client.requests["POST"], client.requests["HEAD"]) == (3, 2, 2)
    manifest = json.loads(raw_manifest(registry.host, "charts/hello", VERSION))
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == HELM_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [HELM_CHART_LAYER]
    assert manifest["layers"][0]["size"] == archive.stat().st_size
    assert manifest["annotations"]["org.opencontainers.image.title"] == "hello"
    assert manifest["annotations"]["org.opencontainers.image.version"] == VERSION
    assert "org.opencontainers.image.created" not in manifest["annotations"]


def test_different_content_under_the_same_tag_is_refused(registry, tmp_path):
    original = packaged(tmp_path / "a")
    changed = packaged(tmp_path / "b", values=VALUES.replace("replicas: 1", "replicas: 3"))
    with Registry(registry.host, insecure=True) as client:
        pushed = push_chart(client, "charts/immutable", str(original))
        before = raw_manifest(registry.host, "charts/immutable", VERSION)
        with pytest.raises(RegistryError, match="tags are immutable") as refused:
            push_chart(client, "charts/immutable", str(changed))
        assert pushed.digest in str(refused.value)
        assert (client.requests["PUT"], client.requests["POST"]) == (3, 2)  # the first push's only
    assert raw_manifest(registry.host, "charts/immutable", VERSION) == before


@NEEDS_HELM
def test_helm_pulls_the_same_bytes_templates_and_lints(registry, tmp_path):
    archive = packaged(tmp_path)
    with Registry(registry.host, insecure=True) as client:
        push_chart(client, "pulled/hello", str(archive))
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    helm(tmp_path, "pull", f"oci://{registry.host}/pulled/hello", "--version", VERSION, "--plain-http",
         "--destination", str(pulled))
    assert (pulled / archive.name).read_bytes() == archive.read_bytes()
    rendered = helm(tmp_path, "template", "demo", str(pulled / archive.name)).stdout
    assert f'image: "ghcr.io/example/hello:{VERSION}"' in rendered
    assert "name: demo-hello" in rendered
    helm(tmp_path, "lint", str(archive))


@NEEDS_HELM
def test_config_is_the_bytes_helm_push_writes(registry, tmp_path):
    archive = packaged(tmp_path)
    with Registry(registry.host, insecure=True) as client:
        ours = push_chart(client, "oracle/hello", str(archive))
    helm(tmp_path, "push", str(archive), f"oci://{registry.host}/by-helm", "--plain-http")
    theirs = json.loads(raw_manifest(registry.host, "by-helm/hello", VERSION))
    mine = json.loads(raw_manifest(registry.host, "oracle/hello", VERSION))
    assert theirs["config"] == mine["config"]
    assert theirs["layers"] == mine["layers"]
    created = theirs["annotations"].pop("org.opencontainers.image.created")
    assert created  # helm's only difference: the archive file's mtime
    assert theirs["annotations"] == mine["annotations"]
    assert ours.tag == VERSION
