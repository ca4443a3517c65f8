"""Loading a built image into a local engine through the Docker Engine API (the `docker` SDK):
Docker itself, or podman's Docker-API service. An engine holds one platform of an image (podman
cannot hold an index), so the engine's own platform is loaded, as a docker-archive."""
from __future__ import annotations

import io
import json
import os
import tarfile

DEFAULT_HOST = "unix:///run/podman/podman.sock"


class EngineError(Exception):
    """The engine could not be reached or refused the image: the message names the engine."""


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def engine_client():
    """The Docker-API client of DOCKER_HOST (or podman's default socket); EngineError when unreachable."""
    import docker
    from docker.errors import DockerException

    host = engine_host()
    try:
        client = docker.DockerClient(base_url=host, timeout=300)
        client.ping()
    except (DockerException, OSError) as err:
        raise EngineError(f"cannot reach the Docker-API engine at {host} ({err}); start it (podman system "
                          "service, or Docker) or set DOCKER_HOST") from None
    return client


def load_image(layout_dir: str, reference: str, platform: str = "") -> str:
    """Load the image of the OCI layout for `platform` (default: the engine's) as `reference`."""
    from docker.errors import DockerException

    host = engine_host()
    client = engine_client()
    try:
        info = client.version()
        wanted = platform or f"{info.get('Os', 'linux')}/{info.get('Arch', 'amd64')}"
        archive = docker_archive(layout_dir, wanted, reference)
        images = client.images.load(archive)
    except DockerException as err:
        raise EngineError(f"the engine at {host} did not take the image: {err}") from None
    except OSError as err:
        raise EngineError(f"cannot reach the engine at {host}: {err.strerror or err}") from None
    if not images:
        raise EngineError(f"the engine at {host} loaded nothing")
    return reference


def docker_archive(layout_dir: str, platform: str, reference: str) -> bytes:
    """One platform's image as `docker save` writes it: manifest.json, the config and the layers."""
    from ksbuild.images.layout import open_layout
    from ksbuild.images.oci import Platform

    layout = open_layout(layout_dir)
    descriptor = layout.platform_manifest(Platform.parse(platform))
    manifest = layout.manifest(descriptor)
    config_name = manifest.config.digest.split(":", 1)[1] + ".json"
    files = {config_name: layout.verified_path(manifest.config)}
    layers = []
    for layer in manifest.layers:
        name = layer.digest.split(":", 1)[1] + ".tar.gz"
        files[name] = layout.verified_path(layer)
        layers.append(name)
    index = [{"Config": config_name, "RepoTags": [reference], "Layers": layers}]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "manifest.json", json.dumps(index).encode())
        for name, path in files.items():
            tar.add(path, arcname=name)
    return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
