"""`go_image` targets and `doit push`, with the real Go toolchain, Debian's docker-registry on
127.0.0.1 and skopeo reading what ksbuild wrote and pushed; podman pulls and runs the image."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DODO, Workspace, commit_all, git
from tests.registry_server import docker_registry

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("go") is None or shutil.which("docker-registry") is None
                                 or shutil.which("skopeo") is None or shutil.which("podman") is None,
                                 reason="needs Go, docker-registry, skopeo and podman (.ci/setup installs them)")]

MAIN = """\
package main

import (
	"fmt"
	"os"
)

var version = "unknown"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("%(name)s", version)
		return
	}
	fmt.Println("hello from %(name)s")
}
"""
BUILD = """\
targets:
  hello-image:
    rule: go_image
    main: ./cmd/hello
    artifact: ":hello"
artifacts:
  hello:
    kind: image
    repository: ghcr.io/example/hello
"""
TOOL_BUILD = """\
targets:
  other-image:
    rule: go_image
    main: ./cmd/other
    artifact: ":other"
    platforms: [linux/amd64]
artifacts:
  other:
    kind: image
    repository: ghcr.io/example/other
"""


def make_repo(root: Path, registry: str = "") -> Workspace:
    ws = Workspace(root)
    root.mkdir(parents=True)
    ws.write("dodo.py", DODO)
    ws.write(".gitignore", ".ksbuild/\n")
    registries = f"registries:\n  {registry}:\n    insecure: true\n" if registry else ""
    ws.write("workspace.yaml", "components:\n  app:\n    path: app\n    tags: app/v*\n"
                               "  utility:\n    path: utility\n    tags: utility/v*\n" + registries)
    for component, name, build in (("app", "hello", BUILD), ("utility", "other", TOOL_BUILD)):
        ws.write(f"{component}/go.mod", f"module example.com/{component}\n\ngo 1.26.0\n")
        ws.write(f"{component}/go.sum", "")
        ws.write(f"{component}/BUILD.yaml", build)
        ws.write(f"{component}/cmd/{name}/main.go", MAIN % {"name": name}, dedent=False)
    git(root, "init", "-q")
    commit_all(root, "app")
    git(root, "tag", "app/v1.2.3")
    return ws


@pytest.fixture
def registry(tmp_path_factory):
    """A registry per test: tags are immutable, and each test's commit makes other content under 1.2.3."""
    with docker_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def repo(tmp_path, registry) -> Workspace:
    return make_repo(tmp_path / "repo", registry.host)


def index_digest(ws: Workspace, name: str, component: str = "app") -> str:
    index = json.loads((ws.root / f".ksbuild/out/{component}/images/{name}/index.json").read_text())
    return index["manifests"][0]["digest"]


def test_pushed_index_lists_both_platforms_and_the_amd64_image_runs(repo, registry):
    repo.doit("app:hello-image")
    result = repo.doit("push", "app:hello-image", "--registry", registry.host)
    assert f"pushed {registry.host}/example/hello:1.2.3@{index_digest(repo, 'hello-image')}" in result.stdout
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{registry.host}/example/hello:1.2.3"], capture_output=True, text=True, check=True)
    index = json.loads(raw.stdout)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", "--tls-verify=false",
                                        f"docker://{registry.host}/example/hello:1.2.3"],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "1.2.3"
    assert config["config"]["User"] == "65532"
    output = podman_run(repo.root.parent, f"{registry.host}/example/hello:1.2.3", registry.host)
    assert output.strip() == "hello 1.2.3"


def test_a_second_push_uploads_no_blob(repo, registry):
    repo.doit("push", "--registry", registry.host)
    before = [r for r in registry.requests() if r.startswith(("POST", "PUT /v2/example/hello/blobs"))]
    result = repo.doit("push", "--registry", registry.host)
    after = [r for r in registry.requests() if r.startswith(("POST", "PUT /v2/example/hello/blobs"))]
    assert after == before
    assert f"unchanged {registry.host}/example/hello:1.2.3@" in result.stdout  # the tag already names it


def test_two_checkouts_at_different_paths_give_the_same_index_digest(repo, tmp_path):
    clone = tmp_path / "elsewhere" / "deep" / "clone"
    git(tmp_path, "clone", "-q", str(repo.root), str(clone))
    git(clone, "fetch", "-q", "--tags")
    other = Workspace(clone)
    repo.doit("app:hello-image")
    other.doit("app:hello-image")
    assert index_digest(repo, "hello-image") == index_digest(other, "hello-image")


def test_editing_one_go_file_rebuilds_that_image_only_and_the_noop_runs_nothing(repo):
    repo.doit()
    before = index_digest(repo, "other-image", "utility")
    main = repo.root / "utility/cmd/other/main.go"
    main.write_text(main.read_text().replace("hello from", "greetings from"))
    repo.doit()
    assert repo.executed() == {"utility:other-image"}  # its binary, layer, manifest and index
    assert index_digest(repo, "other-image", "utility") != before
    repo.doit()
    assert repo.executed() == set()


def test_a_new_version_rebuilds_the_image_that_carries_it(repo):
    repo.doit("app:hello-image")
    git(repo.root, "tag", "app/v1.2.4")  # the same commit, a new release: the binary and labels say it
    repo.doit("app:hello-image")
    assert "app:hello-image" in repo.executed()
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci:{repo.root}/.ksbuild/out/app/images/"
                                        "hello-image"], capture_output=True, text=True, check=True).stdout)
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "1.2.4"


def test_refusals_are_clear(repo, registry, tmp_path):
    build = repo.root / "utility/BUILD.yaml"
    build.write_text(TOOL_BUILD.replace("    artifact: \":other\"\n", "    artifact: \":other\"\n    base: debian:12\n"))
    result = repo.doit("list", check=False)
    assert result.returncode == 2  # a configuration error
    assert "utility/BUILD.yaml:6: //utility:other-image: base image 'debian:12' is not pinned by digest" \
        in result.stderr
    build.write_text(TOOL_BUILD)
    (repo.root / "app/cmd/hello/main.go").write_text(MAIN % {"name": "dirty"})
    result = repo.doit("push", "--registry", registry.host, check=False)
    assert result.returncode != 0
    assert "is dirty (uncommitted changes in app); commit them first" in result.stdout + result.stderr
    git(repo.root, "checkout", "-q", "--", ".")
    result = repo.doit("push", "--registry", "127.0.0.1:9", check=False)
    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stdout + result.stderr and "Traceback" not in result.stderr


def podman_run(base: Path, image: str, registry: str) -> str:
    conf = base / "containers.conf"
    conf.write_text('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
    registries = base / "registries.conf"
    registries.write_text(f'unqualified-search-registries = []\n[[registry]]\nlocation = "{registry}"\n'
                          'insecure = true\n')
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_REGISTRIES_CONF": str(registries)}
    subprocess.run(["podman", "pull", "-q", "--platform", "linux/amd64", image], env=env, check=True,
                   capture_output=True)
    run = subprocess.run(["podman", "run", "--rm", image, "--version"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_base_pinned_by_digest_is_fetched_once_and_built_upon(repo, registry, tmp_path):
    from ksbuild.images.config import ImageSettings
    from ksbuild.images.image import PlatformLayers, build_image
    from ksbuild.images.layer import LayerFile, write_layer
    from ksbuild.images.oci import Platform
    from ksbuild.registry.client import Registry
    from ksbuild.registry.push import push_layout

    layers = []
    for arch in ("amd64", "arm64"):
        layer = write_layer([LayerFile("/etc/base-release", f"base for {arch}\n".encode())], 0,
                            str(tmp_path / f"{arch}.tar.gz"))
        layers.append(PlatformLayers(Platform("linux", arch), (layer,)))
    build_image(str(tmp_path / "base"), layers, ImageSettings(source_date_epoch=0, env=(("BASE", "1"),)))
    with Registry(registry.host, insecure=True) as client:
        base = push_layout(client, "base/minimal", "1", str(tmp_path / "base"))
    build = repo.root / "app/BUILD.yaml"
    build.write_text(BUILD.replace('    artifact: ":hello"\n',
                                   f'    artifact: ":hello"\n    base: {registry.host}/base/minimal@{base.digest}\n'))
    commit_all(repo.root, "a base")
    repo.doit("app:hello-image")
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci:{repo.root}/.ksbuild/out/app/images/"
                                        "hello-image"], capture_output=True, text=True, check=True).stdout)
    assert len(config["rootfs"]["diff_ids"]) == 2  # the base's layer, then ours
    assert "BASE=1" in config["config"]["Env"]


def test_a_registry_that_refuses_the_push_fails_it_and_tags_nothing(repo, tmp_path):
    with docker_registry(tmp_path / "locked", htpasswd=("ci", "secret")) as locked:
        (repo.root / "workspace.yaml").write_text((repo.root / "workspace.yaml").read_text()
                                                  + f"  {locked.host}:\n    insecure: true\n")
        commit_all(repo.root, "another registry")
        result = repo.doit("push", "app:hello-image", "--registry", locked.host, check=False)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert f"registry {locked.host}" in output and "401" in output and "Traceback" not in output
        assert "Nothing was tagged" in output
        assert not [r for r in locked.requests() if r.startswith("PUT /v2/example/hello/manifests/") and
                    r.endswith(" 201")]
