"""Benchmark: the constellation's images with ksbuild (cold, no-op, one Go file changed, a push of an
unchanged image) beside the same work by hand (`go build` per platform, `skopeo copy` of a layout).

    python bench/bench_images.py

Needs Debian's docker-registry, skopeo and podman (.ci/setup installs them). The Go build cache of
ksbuild is shared with earlier runs (as on a developer's machine); the action cache is fresh.
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

from tests.conftest import commit_all, copy_constellation, git  # noqa: E402
from tests.registry_server import docker_registry  # noqa: E402

IMAGES = ["clusteradm:image", "kubestellar:controller-manager-image", "ocm-status-addon:image"]
MAINS = [("components/clusteradm", "./cmd/clusteradm"), ("components/kubestellar", "./cmd/controller-manager"),
         ("components/ocm-status-addon", "./cmd/ocm-status-addon")]


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def print_figures(figures: dict[str, float], hand: dict[str, float]) -> None:
    """ksbuild's figures, then the same work by hand."""
    width = max(map(len, [*figures, *hand]))
    for who, rows in (("ksbuild", figures), ("by hand", hand)):
        for name, seconds in rows.items():
            print(f"{who:8} {name:{width}} {seconds:7.2f} s")


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-images-"))
    try:
        with docker_registry(base / "registry") as registry:
            ws = copy_constellation(base / "repo")
            (ws.root / "workspace.yaml").write_text((ws.root / "workspace.yaml").read_text()
                                                   + f"registries:\n  {registry.host}: {{insecure: true}}\n")
            git(ws.root, "init", "-q")
            commit_all(ws.root, "constellation")
            env = ws.run_env()
            doit = [sys.executable, "-m", "doit"]
            figures = {
                "cold image build (3 images, 5 platforms)": timed(doit + IMAGES, ws.root, env),
                "no-op": timed(doit + IMAGES, ws.root, env),
            }
            main_go = ws.root / "components/clusteradm/cmd/clusteradm/main.go"
            main_go.write_text(main_go.read_text().replace("a stand-in", "a stand-in, edited"))
            commit_all(ws.root, "one Go file")
            figures["one Go file changed"] = timed(doit + IMAGES, ws.root, env)
            push = doit + ["push", "--registry", registry.host]
            figures["first push"] = timed(push, ws.root, env)
            figures["push of unchanged images"] = timed(push, ws.root, env)

            hand = {}
            out = base / "hand"
            started = time.perf_counter()
            for component, package in MAINS:
                for arch in ("amd64", "arm64"):
                    subprocess.run(["go", "build", "-trimpath", "-o", str(out / component / arch), package],
                                   cwd=ws.root / component, check=True,
                                   env={**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch})
            hand["go build, every platform (warm Go cache)"] = time.perf_counter() - started
            layout = ws.root / ".ksbuild/out/clusteradm/images/image"
            copy = ["skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci:{layout}",
                    f"docker://{registry.host}/by-hand/clusteradm:1"]
            hand["skopeo copy of one image (first)"] = timed(copy, ws.root, os.environ.copy())
            hand["skopeo copy of one image (again)"] = timed(copy, ws.root, os.environ.copy())
        print_figures(figures, hand)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
