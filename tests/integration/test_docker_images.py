"""`docker_image` targets through the Docker Engine API (podman's service), the Dockerfile's build
arguments checked at load time, and `doit load` into the engine."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import DODO, Workspace, commit_all, git
from tests.engine import engine_env

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman (.ci/setup installs it)")]

DOCKERFILE = """\
FROM scratch
ARG VERSION
COPY tool.sh /tool.sh
ENV TOOL_VERSION=${VERSION}
LABEL org.opencontainers.image.version=${VERSION}
ENTRYPOINT ["/tool.sh"]
"""
BUILD = """\
targets:
  image:
    rule: docker_image
    srcs: [tool.sh]
    artifact: ":tool"
    version_arg: VERSION
artifacts:
  tool:
    kind: image
    repository: quay.io/example/tool
"""


@pytest.fixture
def repo(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "repo")
    ws.root.mkdir()
    ws.env.update(engine_env())
    ws.write("dodo.py", DODO)
    ws.write(".gitignore", ".ksbuild/\n")
    ws.write("workspace.yaml", "components:\n  toolbox:\n    path: tool-image\n    tags: toolbox/v*\n")
    ws.write("tool-image/Dockerfile", DOCKERFILE)
    ws.write("tool-image/tool.sh", "#!/bin/sh\necho tool\n")
    ws.write("tool-image/BUILD.yaml", BUILD)
    git(ws.root, "init", "-q")
    commit_all(ws.root, "tool")
    git(ws.root, "tag", "toolbox/v1.32.13")
    return ws


def test_the_version_argument_reaches_the_image_and_the_layout_is_an_oci_image(repo):
    repo.doit()
    layout = repo.root / ".ksbuild/out/toolbox/images/image"
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}"], capture_output=True, text=True,
                                    check=True).stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci:{layout}"], capture_output=True,
                                       text=True, check=True).stdout)
    assert "TOOL_VERSION=1.32.13" in config["config"]["Env"]
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "1.32.13"


def test_an_arg_without_a_value_and_an_argument_no_arg_reads_are_load_errors(repo):
    repo.write("tool-image/BUILD.yaml", BUILD.replace("    version_arg: VERSION\n",
                                                      "    build_args: {version: '1.32.13'}\n"))
    result = repo.doit("list", check=False)
    assert result.returncode == 2  # a configuration error
    assert ("tool-image/Dockerfile:4: //toolbox:image: ARG VERSION is used but gets no value: no default, and the "
            "target passes none") in result.stderr
    assert "build argument 'version' is not an ARG of the Dockerfile" in result.stderr
    assert "Did you mean 'VERSION'?" in result.stderr


def test_load_puts_the_image_into_the_engine(repo):
    repo.doit("load", "toolbox:image")
    env = {**repo.run_env()}
    listing = subprocess.run(["podman", "--url", env["DOCKER_HOST"], "images", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True, env=env)
    assert "quay.io/example/tool:1.32.13" in listing.stdout, listing.stdout + listing.stderr


def test_an_engine_that_is_down_is_one_clear_error(repo):
    repo.env["DOCKER_HOST"] = f"unix://{repo.root}/no-such.sock"
    result = repo.doit(check=False)
    assert result.returncode != 0
    assert f"cannot reach the Docker-API engine at unix://{repo.root}/no-such.sock" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
