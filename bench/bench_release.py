"""Benchmark: `doit release` of the constellation from its tags to Debian's docker-registry on
127.0.0.1: the cold release (fresh action cache: verify, build, push), a repeated release
(nothing to push), the dry run warm and cold, beside the same pushes by hand (`skopeo copy` of each image layout and
`helm push` of each chart, the steps a release script runs once everything is built).

    python bench/bench_release.py

Needs docker-registry, skopeo and the pinned helm (`doit tool:helm`). The Go build cache of ksbuild
is shared with earlier runs (as on a developer's machine); the action cache is fresh.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_images import print_figures, timed  # noqa: E402
from tests.conftest import commit_all, copy_constellation, git  # noqa: E402
from tests.helm import helm_binary  # noqa: E402
from tests.integration.test_release import EXTERNAL, TAGS, push_image, tiny_image  # noqa: E402
from tests.registry_server import docker_registry  # noqa: E402


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-release-"))
    try:
        with docker_registry(base / "registry") as registry, docker_registry(base / "by-hand") as by_hand:
            for repository, tag in EXTERNAL:
                push_image(registry.host, repository, tag, tiny_image(base / "external" / tag, tag))
            ws = copy_constellation(base / "repo")
            ws.write(".gitignore", ".ksbuild/\n")
            (ws.root / "workspace.yaml").write_text((ws.root / "workspace.yaml").read_text()
                                                   + f"registries:\n  {registry.host}: {{insecure: true}}\n")
            values = ws.root / "components/kubestellar/chart/values.yaml"
            values.write_text(values.read_text().replace('"0.0.0"', '"0.20.0"'))
            git(ws.root, "init", "-q")
            commit_all(ws.root, "constellation")
            for tag in TAGS:
                git(ws.root, "tag", tag)
            env = ws.run_env()
            release = [sys.executable, "-m", "doit", "release", "--registry", registry.host]
            figures = {
                "cold release (verify, build, push 3 images, 2 charts)": timed(release, ws.root, env),
                "repeated release (nothing to push)": timed(release, ws.root, env),
                "dry run, built already": timed(release + ["--dry-run"], ws.root, env),
            }
            shutil.rmtree(ws.root / ".ksbuild")
            env["KSBUILD_CACHE_DIR"] = str(base / "fresh-cache")
            figures["dry run, cold (fresh action cache)"] = timed(release + ["--dry-run"], ws.root, env)

            hand = {}
            started = time.perf_counter()
            for layout in sorted((ws.root / ".ksbuild/out").glob("*/images/*")):
                subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci:{layout}",
                                f"docker://{by_hand.host}/{layout.name}:1"], check=True, capture_output=True)
            helm_home = base / "helm-home"
            helm_env = {**os.environ, "HOME": str(helm_home), "HELM_CONFIG_HOME": str(helm_home / "config"),
                        "HELM_CACHE_HOME": str(helm_home / "cache")}
            for chart in sorted((ws.root / ".ksbuild/out").glob("*/charts/*/*.tgz")):
                subprocess.run([str(helm_binary()), "push", str(chart), f"oci://{by_hand.host}/charts", "--plain-http"],
                               check=True, capture_output=True, env=helm_env)
            hand["skopeo copy of 3 images + helm push of 2 charts"] = time.perf_counter() - started
        print_figures(figures, hand)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
