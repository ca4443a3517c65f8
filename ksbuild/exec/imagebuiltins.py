"""In-process steps of image rules: run by the executor like any builtin, on the sandbox's files."""
from __future__ import annotations

import json
import os
import tempfile


def version_text(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (version file, destination): the version alone, for a command to read (`$(cat FILE)`)."""
    with open(os.path.join(cwd, argv[0]), encoding="utf-8") as handle:
        version = json.load(handle)["version"]
    os.makedirs(os.path.dirname(os.path.join(cwd, argv[1])), exist_ok=True)
    with open(os.path.join(cwd, argv[1]), "w", encoding="utf-8") as handle:
        handle.write(version)


def oci_image(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (JSON spec from rules.images): a layer per platform holding its binary at /BINARY, and the
    image layout over them, with the version, commit and commit time of the version file."""
    from ksbuild.images.config import ImageSettings
    from ksbuild.images.oci import ImageError

    spec = json.loads(argv[0])
    with open(os.path.join(cwd, spec["version_file"]), encoding="utf-8") as handle:
        version = json.load(handle)
    epoch = int(version.get("commit_time") or 0)
    entrypoint = f"/{spec['binary']}"
    settings = ImageSettings(source_date_epoch=epoch, entrypoint=(entrypoint,), cmd=tuple(spec["args"]),
                             env=tuple(tuple(pair) for pair in spec["env"]), user=spec["user"],
                             source=spec["source"], revision=version.get("commit", ""), version=version["version"])
    with tempfile.TemporaryDirectory(prefix="ksbuild-layers-") as scratch:
        try:
            _build(cwd, spec, epoch, entrypoint, settings, scratch)
        except ImageError as err:
            raise ValueError(str(err)) from None


def _build(cwd: str, spec: dict, epoch: int, entrypoint: str, settings, scratch: str) -> None:
    """One layer per platform (its binary at the entrypoint), then the layout over them."""
    from ksbuild.images.image import PlatformLayers, build_image
    from ksbuild.images.layer import LayerFile, write_layer
    from ksbuild.images.oci import Platform

    images = []
    for platform, binary in spec["binaries"]:
        layer = write_layer([LayerFile(entrypoint, os.path.join(cwd, binary), 0o755)], epoch,
                            os.path.join(scratch, platform.replace("/", "_") + ".tar.gz"))
        images.append(PlatformLayers(Platform.parse(platform), (layer,)))
    base = None if spec["base"] == "scratch" else fetch_base(spec["base"], spec.get("base_insecure", False))
    build_image(os.path.join(cwd, spec["out"]), images, settings, base)


def fetch_base(reference: str, insecure: bool) -> str:
    """The base image pinned by digest, fetched once per machine into a content-addressed store
    (every blob checked against its digest); returns its layout's directory."""
    from ksbuild.registry.client import Registry
    from ksbuild.registry.errors import RegistryError
    from ksbuild.registry.fetch import fetch_image
    from ksbuild.toolchain import cache_home

    host, _, rest = reference.partition("/")
    try:
        with Registry(host, insecure=insecure) as registry:
            return fetch_image(registry, rest, os.path.join(cache_home(), "images"))
    except RegistryError as err:
        raise ValueError(f"base image {reference}: {err}") from None


def docker_build(cwd: str, argv: tuple[str, ...]) -> None:
    """argv: (JSON spec from rules.images): the declared context sent to the Docker-API engine, the
    image built with the build arguments (and the version), saved and written as an OCI layout."""
    import io
    import tarfile

    from ksbuild.images.dockerarchive import archive_to_layout
    from ksbuild.images.oci import ImageError
    from ksbuild.publish.engine import EngineError, engine_client

    spec = json.loads(argv[0])
    args = dict(spec["build_args"])
    if spec["version_arg"]:
        with open(os.path.join(cwd, spec["version_file"]), encoding="utf-8") as handle:
            args[spec["version_arg"]] = json.load(handle)["version"]
    context = io.BytesIO()
    prefix = spec["context"].rstrip("/") + "/" if spec["context"] not in ("", ".") else ""
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path in spec["files"]:
            if path.startswith(prefix):
                tar.add(os.path.join(cwd, path), arcname=path[len(prefix):], recursive=False)
    context.seek(0)
    dockerfile = spec["dockerfile"][len(prefix):]
    with tempfile.TemporaryDirectory(prefix="ksbuild-docker-") as scratch:
        archive = os.path.join(scratch, "image.tar")
        try:
            client = engine_client()
            image, _ = client.images.build(fileobj=context, custom_context=True, dockerfile=dockerfile,
                                           buildargs=args, tag=spec["tag"], rm=True, pull=False)
            with open(archive, "wb") as handle:
                for chunk in image.save():
                    handle.write(chunk)
            archive_to_layout(archive, os.path.join(cwd, spec["out"]))
        except EngineError as err:
            raise ValueError(str(err)) from None
        except ImageError as err:
            raise ValueError(f"the engine's image: {err}") from None
        except Exception as err:  # the docker SDK's BuildError, APIError...: the engine's own words
            if type(err).__module__.startswith("docker"):
                raise ValueError(f"the engine at {_host()} could not build {spec['dockerfile']}: {err}") from None
            raise


def _host() -> str:
    from ksbuild.publish.engine import engine_host

    return engine_host()
