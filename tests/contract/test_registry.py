"""The registry client, push and fetch against a real registry (Debian's docker-registry:
distribution 2.8), with skopeo as the independent reader; auth against the same registry with
htpasswd and with bearer tokens; and a scripted server for the replies a real registry does not
send (lies, floods, silence)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from ksbuild.images import (ImageSettings, LayerFile, Platform, PlatformLayers, build_image, open_layout,
                            verify_layout, write_layer)
from ksbuild.images.oci import OCI_INDEX, OCI_MANIFEST
from ksbuild.registry import Credentials, Registry, RegistryError, env_variable, fetch_image, push_layout
from ksbuild.registry.auth import credentials_from_env, parse_challenges
from ksbuild.registry.errors import Failure
from tests.registry_server import TokenService, docker_registry, http_reply, scripted_server
from tests.servers import free_port, silent_server

EPOCH = 1_700_000_000
BUSYBOX = "/bin/busybox"
SCRIPT = b"#!/bin/sh\necho hello from ksbuild\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with docker_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """An image layout for linux/amd64 (Debian's static busybox, when installed, and a script) and
    linux/arm64 (a script)."""
    directory = tmp_path_factory.mktemp("image")
    images = []
    for platform in (Platform("linux", "amd64"), Platform("linux", "arm64")):
        files = [LayerFile("/bin/hello", SCRIPT + str(platform).encode() + b"\n", 0o755)]
        if platform.architecture == "amd64" and os.path.exists(BUSYBOX):
            files.append(LayerFile(BUSYBOX, BUSYBOX, 0o755))
        layer = write_layer(files, EPOCH, str(directory / f"{platform.architecture}.tar.gz"))
        images.append(PlatformLayers(platform, (layer,)))
    settings = ImageSettings(source_date_epoch=EPOCH, entrypoint=("/bin/hello",), source="https://example.com/hello",
                             revision="0" * 40, version="1.0.0")
    build_image(str(directory / "layout"), images, settings)
    return str(directory / "layout")


def client(server, **options) -> Registry:
    return Registry(server.host, insecure=True, auth=None, **options)


def blobs(layout_dir) -> set[str]:
    return set(os.listdir(os.path.join(layout_dir, "blobs", "sha256")))


def skopeo(*args) -> bytes:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=60).stdout


# push ------------------------------------------------------------------------------------------
def test_push_is_read_back_by_skopeo_with_the_same_digests(registry, image, tmp_path):
    result = push_layout(client(registry), "ksbuild/hello", "v1.0.0", image)
    assert result.digest == open_layout(image).root.digest and result.media_type == OCI_INDEX
    assert (result.uploaded, result.existing) == (4, 0)  # two layers, two configs

    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/ksbuild/hello:v1.0.0")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == result.digest
    index = json.loads(raw)
    assert index["mediaType"] == OCI_INDEX
    assert sorted((m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]) == \
        [("linux", "amd64"), ("linux", "arm64")]
    assert all(m["mediaType"] == OCI_MANIFEST for m in index["manifests"])

    copied = tmp_path / "copied"
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{registry.host}/ksbuild/hello:v1.0.0", f"oci:{copied}")
    assert verify_layout(str(copied)).root.digest == result.digest
    assert blobs(copied) == blobs(image)

    config = json.loads(skopeo("inspect", "--tls-verify=false", "--override-arch=arm64",
                               f"docker://{registry.host}/ksbuild/hello:v1.0.0"))
    assert config["Architecture"] == "arm64" and config["Labels"]["org.opencontainers.image.version"] == "1.0.0"


def test_the_tag_comes_last_and_a_second_push_uploads_no_blob(registry, image):
    push_layout(client(registry), "ksbuild/twice", "v1", image)
    writes = [r for r in registry.requests() if "/ksbuild/twice/" in r and r.split()[0] in ("PUT", "POST", "PATCH")]
    assert [w.split()[1].split("/")[4] for w in writes] == ["blobs"] * 8 + ["manifests"] * 3  # 4 POSTs, 4 PUTs
    assert writes[-1] == "PUT /v2/ksbuild/twice/manifests/v1 201"

    again = client(registry)
    result = push_layout(again, "ksbuild/twice", "v2", image)
    assert (result.uploaded, result.existing, result.uploaded_bytes) == (0, 4, 0)
    assert again.requests["POST"] == 0 and again.requests["PATCH"] == 0
    assert [r for r in registry.requests() if "/ksbuild/twice/" in r and r.startswith("POST")] == \
        [w for w in writes if w.startswith("POST")]
    assert sorted(again.tags("ksbuild/twice")) == ["v1", "v2"]


def test_chunked_upload_and_streamed_download(registry, tmp_path):
    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data)
    chunked = client(registry, monolithic_limit=100_000, chunk_size=64 * 1024)
    assert chunked.push_blob("ksbuild/chunks", digest, str(tmp_path / "blob"), len(data)) is True
    assert chunked.requests["PATCH"] == 5 and chunked.requests["POST"] == 1
    assert chunked.push_blob("ksbuild/chunks", digest, data, len(data)) is False  # there already
    assert chunked.get_blob("ksbuild/chunks", digest, str(tmp_path / "back"), len(data)) == len(data)
    assert (tmp_path / "back").read_bytes() == data
    with pytest.raises(RegistryError, match="holds 300000 bytes, not the 5 declared"):
        chunked.push_blob("ksbuild/chunks", "sha256:" + "1" * 64, data, 5)
    with pytest.raises(RegistryError, match=r"HTTP 400 DIGEST_INVALID"):
        chunked.push_blob("ksbuild/chunks", "sha256:" + "2" * 64, b"not that", 8)


def test_manifests_by_tag_and_by_digest(registry, image):
    registry_client = client(registry)
    result = push_layout(registry_client, "ksbuild/manifests", "v1", image)
    by_tag = registry_client.get_manifest("ksbuild/manifests", "v1")
    by_digest = registry_client.get_manifest("ksbuild/manifests", result.digest)
    assert by_tag == by_digest and by_tag.digest == result.digest and by_tag.media_type == OCI_INDEX
    with pytest.raises(RegistryError, match="the manifest's digest is"):
        registry_client.put_manifest("ksbuild/manifests", "sha256:" + "3" * 64, by_tag.data, OCI_INDEX)
    with pytest.raises(RegistryError, match=r"getting manifest nope: HTTP 404 MANIFEST_UNKNOWN") as refused:
        registry_client.get_manifest("ksbuild/manifests", "nope")
    assert refused.value.status == 404 and refused.value.code == "MANIFEST_UNKNOWN"
    assert registry_client.tags("ksbuild/never-pushed") == []
    with pytest.raises(RegistryError, match="listing tags: HTTP 404: 404 page not found"):
        registry_client.tags("KSBuild/Upper")  # a name the registry refuses is not an empty repository


# failures ------------------------------------------------------------------------------------------
def test_a_registry_that_is_down(image):
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError) as down:
        push_layout(Registry(host, insecure=True, auth=None), "ksbuild/hello", "v1", image)
    message = str(down.value)
    assert message.startswith(f"registry {host}, repository ksbuild/hello: checking blob sha256:")
    assert "cannot connect (connection refused)" in message and "Traceback" not in message


def test_a_repository_name_the_registry_refuses(registry, image):
    with pytest.raises(RegistryError) as refused:
        push_layout(client(registry), "KSBuild/Hello", "v1", image)
    message = str(refused.value)
    assert message.startswith(f"registry {registry.host}, repository KSBuild/Hello: uploading blob sha256:")
    assert "HTTP 404" in message and "lower-case" in message and refused.value.status == 404
    assert not any("/manifests/" in r for r in registry.requests() if "KSBuild" in r)


def test_plain_http_only_when_marked_insecure(registry, image):
    with pytest.raises(RegistryError, match="TLS failed") as refused:
        push_layout(Registry(registry.host, auth=None), "ksbuild/tls", "v1", image)
    assert "mark it insecure" in str(refused.value)


# fetch ---------------------------------------------------------------------------------------------
def test_fetch_by_digest_into_the_store_and_build_on_it(registry, image, tmp_path):
    pushed = push_layout(client(registry), "ksbuild/base", "v1", image)
    fetcher = client(registry)
    store = tmp_path / "store"
    directory = fetch_image(fetcher, f"ksbuild/base@{pushed.digest}", str(store))
    assert directory == str(store / "sha256" / pushed.digest.split(":")[1])
    assert verify_layout(directory).root.digest == pushed.digest and blobs(directory) == blobs(image)
    gets = fetcher.requests["GET"]
    assert fetch_image(fetcher, f"ksbuild/base:v1@{pushed.digest}", str(store)) == directory
    assert fetcher.requests["GET"] == gets  # in the store already: nothing asked

    # one platform of it only
    partial = fetch_image(client(registry), f"ksbuild/base@{pushed.digest}", str(tmp_path / "partial"),
                          platforms=[Platform("linux", "arm64")])
    arm64 = open_layout(partial).platform_manifest(Platform("linux", "arm64"))
    assert len(blobs(partial)) == 4  # index, arm64 manifest, its config and its layer
    assert arm64.digest in {"sha256:" + b for b in blobs(partial)}

    # an image on top of the fetched one, pushed and read back
    layer = write_layer([LayerFile("app/hello", b"on top\n", 0o755)], EPOCH, str(tmp_path / "top.tar.gz"))
    built = build_image(str(tmp_path / "app"), [PlatformLayers(Platform("linux", "amd64"), (layer,))],
                        ImageSettings(source_date_epoch=EPOCH, entrypoint=("/app/hello",)), base=directory)
    on_top = push_layout(client(registry), "ksbuild/app", "v1", str(tmp_path / "app"))
    # a new repository: the base layer is uploaded again (the client does not mount across repositories)
    assert on_top.digest == built.digest and (on_top.uploaded, on_top.existing) == (3, 0)
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/ksbuild/app:v1"))
    assert len(inspected["Layers"]) == 2 and inspected["Layers"][1] == layer.digest


def test_fetch_by_tag_alone_is_refused(registry, tmp_path):
    fetcher = client(registry)
    with pytest.raises(RegistryError, match="tag alone is refused") as refused:
        fetch_image(fetcher, "ksbuild/base:v1", str(tmp_path / "store"))
    assert "pin it by digest: ksbuild/base@sha256:<digest>" in str(refused.value)
    assert sum(fetcher.requests.values()) == 0 and not (tmp_path / "store").exists()


def test_fetch_verifies_what_the_store_and_registry_hold(registry, image, tmp_path):
    pushed = push_layout(client(registry), "ksbuild/verify", "v1", image)
    with pytest.raises(RegistryError, match="HTTP 404 MANIFEST_UNKNOWN"):
        fetch_image(client(registry), "ksbuild/verify@sha256:" + "4" * 64, str(tmp_path / "store"))
    directory = fetch_image(client(registry), f"ksbuild/verify@{pushed.digest}", str(tmp_path / "store"))
    layout = open_layout(directory)
    layer = layout.manifest(layout.platform_manifest(Platform("linux", "arm64"))).layers[0]
    os.unlink(layout.blob_path(layer.digest))  # a store that lost a blob is refetched, not trusted
    fetch_image(client(registry), f"ksbuild/verify@{pushed.digest}", str(tmp_path / "store"))
    verify_layout(directory)


# auth ----------------------------------------------------------------------------------------------
def test_basic_auth_with_credentials_from_the_environment(tmp_path, image, monkeypatch):
    with docker_registry(tmp_path / "registry", htpasswd=("builder", "pa55-word")) as server:
        variable = env_variable(server.host)
        monkeypatch.delenv(variable, raising=False)
        with pytest.raises(RegistryError, match=r"HTTP 401") as refused:
            push_layout(Registry(server.host, insecure=True), "ksbuild/private", "v1", image)
        assert f"set {variable}=USER:PASSWORD" in str(refused.value)
        monkeypatch.setenv(variable, "builder:wrong-pa55")
        with pytest.raises(RegistryError, match=r"HTTP 401") as refused:
            push_layout(Registry(server.host, insecure=True), "ksbuild/private", "v1", image)
        assert "wrong-pa55" not in str(refused.value) and f"check the credentials in {variable}" in str(refused.value)
        monkeypatch.setenv(variable, "builder:pa55-word")
        assert push_layout(Registry(server.host, insecure=True), "ksbuild/private", "v1", image).uploaded == 4


def test_bearer_token_auth(tmp_path, image):
    tokens = TokenService(tmp_path / "tokens", "builder", "t0ken-pa55")
    with tokens.serving(), docker_registry(tmp_path / "registry", token=tokens) as server:
        pusher = Registry(server.host, insecure=True, auth=Credentials("builder", "t0ken-pa55"))
        assert push_layout(pusher, "ksbuild/tokens", "v1", image).uploaded == 4
        # one token for the whole push: the scope asked for, and the one the registry's challenge named
        assert tokens.seen == [(["repository:ksbuild/tokens:pull", "repository:ksbuild/tokens:pull,push"], True)]
        wrong = Registry(server.host, insecure=True, auth=Credentials("builder", "bad-pa55"))
        refusal = "token service http://127.0.0.1:[0-9]+/token answered HTTP 401"
        with pytest.raises(RegistryError, match=refusal) as refused:
            wrong.tags("ksbuild/tokens")
        assert "bad-pa55" not in str(refused.value) and "bad-pa55" not in repr(refused.value.__dict__)
        reader = Registry(server.host, insecure=True, auth=Credentials("builder", "t0ken-pa55"))
        assert reader.tags("ksbuild/tokens") == ["v1"]
        assert tokens.seen[-1] == (["repository:ksbuild/tokens:pull"], True)  # a reader asks for pull only


def test_credentials_and_challenges_parse():
    assert env_variable("ghcr.io") == "KSBUILD_REGISTRY_AUTH_GHCR_IO"
    assert env_variable("127.0.0.1:5000") == "KSBUILD_REGISTRY_AUTH_127_0_0_1_5000"
    found = credentials_from_env("ghcr.io", {"KSBUILD_REGISTRY_AUTH_GHCR_IO": "me:a:b"})
    assert (found.username, found.password) == ("me", "a:b") and "a:b" not in repr(found)
    assert credentials_from_env("ghcr.io", {}) is None
    with pytest.raises(Failure, match="KSBUILD_REGISTRY_AUTH_GHCR_IO is set but is not USER:PASSWORD") as bad:
        credentials_from_env("ghcr.io", {"KSBUILD_REGISTRY_AUTH_GHCR_IO": "secret-token"})
    assert "secret-token" not in str(bad.value)
    [basic, bearer] = parse_challenges('Basic realm="r", Bearer realm="https://auth.example/token",'
                                       'service="registry.example",scope="repository:a/b:pull,push"')
    assert basic.scheme == "basic" and bearer.get("scope") == "repository:a/b:pull,push"
    assert bearer.get("realm") == "https://auth.example/token" and bearer.get("service") == "registry.example"


def test_a_bearer_realm_in_clear_is_refused_for_a_tls_registry():
    from ksbuild.registry.auth import Authenticator
    from ksbuild.registry.transport import Transport
    authenticator = Authenticator("ghcr.io", False, Credentials("u", "p"), Transport(1))
    with pytest.raises(Failure, match="plain HTTP: no credential is sent in clear"):
        authenticator.answer('Bearer realm="http://ghcr.io/token"', "repository:a:pull")


# hostile replies (a scripted server: a real registry does not lie) ---------------------------------------
DATA = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize("reply, message", [
    (http_reply(200, b"", {"Content-Type": OCI_INDEX}, length=5 * 2**20),
     "claims 5242880 bytes, more than the 4194304"),
    (http_reply(200, b" " * (4 * 2**20 + 1), {"Content-Type": OCI_INDEX}, length=-1), "larger than the 4194304"),
    (http_reply(200, DATA + b" ", {"Content-Type": OCI_INDEX}), "the registry sent bytes whose digest is"),
    (http_reply(200, DATA, {"Docker-Content-Digest": "sha256:" + "5" * 64}), "Docker-Content-Digest sha256:5555"),
    (http_reply(200, DATA[:10], length=len(DATA)), "broke off"),
    (http_reply(403, b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'),
     "HTTP 403 DENIED: requested access to the resource is denied"),
    (http_reply(500, b"<html>oops\n</html>"), "HTTP 500: <html>oops"),
    (b"NOT HTTP AT ALL\r\n\r\n", "not a valid HTTP answer"),
], ids=["length-over-limit", "body-over-limit", "other-bytes", "content-digest-lie", "broke-off", "error-code",
        "html-error", "not-http"])
def test_hostile_manifest_replies_are_refused(reply, message):
    with scripted_server(lambda method, path: reply) as host:
        with pytest.raises(RegistryError, match=message) as refused:
            Registry(host, insecure=True, auth=None, timeout=5).get_manifest("ksbuild/lies", DIGEST)
    assert str(refused.value).startswith(f"registry {host}, repository ksbuild/lies: getting manifest {DIGEST}: ")


@pytest.mark.parametrize("reply, message", [
    (http_reply(200, b"x" * 100), "claims 100 bytes, the descriptor says 10"),
    (http_reply(200, b"x" * 100, length=-1), "more than the 10 bytes expected"),
    (http_reply(200, b"x" * 10), "whose digest is sha256:"),
    (http_reply(200, b"x" * 5, length=10), "broke off"),
], ids=["length-lie", "longer-than-declared", "other-bytes", "broke-off"])
def test_hostile_blob_replies_are_refused_and_leave_nothing(tmp_path, reply, message):
    with scripted_server(lambda method, path: reply) as host:
        with pytest.raises(RegistryError, match=message):
            Registry(host, insecure=True, auth=None, timeout=5).get_blob(
                "ksbuild/lies", "sha256:" + "6" * 64, str(tmp_path / "blob"), 10)
    assert list(tmp_path.iterdir()) == []


def test_relative_upload_locations_are_followed():
    seen = []

    def answer(method, path):
        seen.append(f"{method} {path}")
        if method == "HEAD":
            return http_reply(404)
        if method == "POST":
            return http_reply(202, headers={"Location": "/v2/ksbuild/rel/blobs/uploads/u1?_state=s"})
        return http_reply(201, headers={"Docker-Content-Digest": "sha256:" + hashlib.sha256(b"abc").hexdigest()})

    with scripted_server(answer) as host:
        digest = "sha256:" + hashlib.sha256(b"abc").hexdigest()
        assert Registry(host, insecure=True, auth=None).push_blob("ksbuild/rel", digest, b"abc", 3) is True
    assert seen[-1] == f"PUT /v2/ksbuild/rel/blobs/uploads/u1?_state=s&digest={digest}"


def test_a_reply_that_is_not_a_manifest_is_refused():
    reply = http_reply(200, b'{"schemaVersion":2}', {"Content-Type": "text/html"})
    with scripted_server(lambda method, path: reply) as host:
        with pytest.raises(RegistryError, match="'text/html' is not an image manifest or index"):
            Registry(host, insecure=True, auth=None).get_manifest("ksbuild/lies", "v1")


def test_a_location_that_leaves_tls_is_refused():
    registry = Registry("registry.example", auth=None)
    assert registry._resolve("https://registry.example/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u?s=1", "up", "a") \
        == "https://registry.example/v2/a/blobs/uploads/u?s=1"
    assert registry._resolve("https://registry.example/v2/", "https://storage.example/x", "up", "a") \
        == "https://storage.example/x"
    for location in ("http://storage.example/x", "file:///etc/passwd"):
        with pytest.raises(RegistryError, match="which is not HTTPS"):
            registry._resolve("https://registry.example/v2/", location, "up", "a")


def test_a_registry_that_never_answers_times_out():
    with silent_server() as url:
        host = url.split("//")[1]
        started = time.monotonic()
        with pytest.raises(RegistryError, match="no complete answer within|timed out") as hung:
            Registry(host, insecure=True, auth=None, timeout=0.3).tags("ksbuild/silent")
    assert time.monotonic() - started < 3
    assert str(hung.value).startswith(f"registry {host}, repository ksbuild/silent: listing tags: ")


def test_the_client_refuses_bad_names_before_asking(registry):
    with pytest.raises(RegistryError, match="not a registry host"):
        Registry("https://ghcr.io")
    registry_client = client(registry)
    for bad in ("../etc", "a//b", "a?b", ""):
        with pytest.raises(RegistryError, match="not a repository name"):
            registry_client.tags(bad)
    with pytest.raises(RegistryError, match="neither a tag nor a sha256 digest"):
        registry_client.get_manifest("ksbuild/x", "v1/../x")
    assert sum(registry_client.requests.values()) == 0


def test_skopeo_and_the_registry_are_installed():
    assert shutil.which("skopeo") and shutil.which("docker-registry"), "run .ci/setup"
