"""The README's CI recipe, run step by step as GitHub Actions would run it: a pull request's verify
(shared cache read-only, signed entries only), then main's verify, build and publish (read-write,
signing), then another pull request that verifies from what main wrote. The cache is nginx WebDAV
and the registry Debian's docker-registry, both on 127.0.0.1; the GitHub expressions are given the
local values, and only steps that need GitHub itself (checkout, the pip install) are left out."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import DODO, REPO, Workspace, commit_all, git
from tests.registry_server import docker_registry
from tests.servers import nginx_webdav

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("docker-registry") is None or shutil.which("nginx") is None
                                 and not Path("/usr/sbin/nginx").exists(), reason="needs docker-registry and nginx")]

BUILD = """\
targets:
  notice:
    rule: command
    srcs: [notice.in]
    outs: [NOTICE]
    cmd: [sh, -c, "tr a-z A-Z < notice.in > NOTICE"]
  image:
    rule: go_image
    main: ./cmd/hello
    artifact: ":hello"
    platforms: [linux/amd64]
artifacts:
  hello:
    kind: image
    repository: ghcr.io/example/hello
"""
MAIN = 'package main\n\nimport "fmt"\n\nvar version = "unknown"\n\nfunc main() { fmt.Println("hello", version) }\n'


def recipe() -> dict:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- BEGIN CI RECIPE -->", 1)[1].split("<!-- END CI RECIPE -->", 1)[0]
    return yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])


def expand(value: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], value)


def run_job(job: dict, root: Path, values: dict[str, str], extra_env: dict[str, str]) -> list[str]:
    """Every `run` step of the job, in order, with the job's environment; returns their outputs."""
    env = {k: v for k, v in Workspace(root).run_env().items() if not k.startswith("KSBUILD_")}
    env.update({name: expand(str(value), values) for name, value in job.get("env", {}).items()})
    env.update(extra_env)
    outputs = []
    for step in job["steps"]:
        command = step.get("run")
        if command is None or command.startswith("python3 -m pip install"):
            continue  # actions/checkout is the clone below; ksbuild is installed already
        argv = command.split()
        assert argv[0] == "ksbuild", command
        result = subprocess.run([sys.executable, "-m", "ksbuild.cli.main", *argv[1:]], cwd=root, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    return outputs


def test_the_readme_ci_recipe_runs_step_by_step(tmp_path):
    jobs = recipe()["jobs"]
    assert list(jobs) == ["verify", "publish"]
    with nginx_webdav(tmp_path / "cache", token="Bearer ci-cache-token") as cache, \
            docker_registry(tmp_path / "registry") as registry:
        origin = Workspace(tmp_path / "origin")
        origin.root.mkdir()
        origin.write("dodo.py", DODO)
        origin.write(".gitignore", ".ksbuild/\n")
        origin.write("workspace.yaml", f"components:\n  app:\n    path: app\nregistries:\n  {registry.host}:\n"
                                       "    insecure: true\n")
        origin.write("app/BUILD.yaml", BUILD)
        origin.write("app/notice.in", "made by ksbuild\n")
        origin.write("app/NOTICE", "MADE BY KSBUILD\n")
        origin.write("app/go.mod", "module example.com/app\n\ngo 1.26.0\n")
        origin.write("app/go.sum", "")
        origin.write("app/cmd/hello/main.go", MAIN, dedent=False)
        git(origin.root, "init", "-q", "-b", "main")
        commit_all(origin.root, "app")
        values = {"vars.KSBUILD_REMOTE_CACHE": cache.url, "secrets.KSBUILD_REMOTE_CACHE_AUTH": "Bearer ci-cache-token",
                  "secrets.KSBUILD_CACHE_SIGNING_KEY": "a-signing-key-for-this-test-only-0123456789",
                  "github.actor": "ci", "secrets.GITHUB_TOKEN": "unused"}
        local = {"KSBUILD_PUSH_REGISTRY": registry.host}  # the test's one addition: publish to 127.0.0.1

        def checkout(name: str) -> Path:
            root = tmp_path / name
            git(tmp_path, "clone", "-q", str(origin.root), str(root))
            return root

        pull_request = checkout("pull-request")
        (verify_output,) = run_job(jobs["verify"], pull_request, values,
                                   {**local, "KSBUILD_CACHE_DIR": str(tmp_path / "pr-cache")})
        assert "every derived file is what the build produces" in verify_output
        assert (pull_request / "verify.xml").is_file() and (pull_request / "fix.patch").read_text() == ""
        assert not [r for r in cache.requests() if r.startswith("PUT")], "a pull request wrote the shared cache"

        main = checkout("main")
        outputs = run_job(jobs["publish"], main, values, {**local, "KSBUILD_CACHE_DIR": str(tmp_path / "main-cache")})
        assert "ksbuild: release manifest" in outputs[-1]
        assert [r for r in cache.requests() if r.startswith("PUT") and r.endswith((" 201", " 204"))]
        pushed = re.search(rf"pushed {re.escape(registry.host)}/example/hello:(\S+)@", outputs[-1])
        assert pushed and "-dev." in pushed.group(1), outputs[-1]

        again = checkout("another-pull-request")
        (verify_output,) = run_job(jobs["verify"], again, values,
                                   {**local, "KSBUILD_CACHE_DIR": str(tmp_path / "fresh-cache")})
        assert "1 derived-file target(s), 1 from the action cache" in verify_output  # main's signed entry
