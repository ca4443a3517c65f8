"""Deterministic images: layers, configs, manifests, indexes and OCI layouts (no registry)."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile

import pytest

from ksbuild.images import (ImageError, ImageSettings, LayerFile, Platform, PlatformLayers, build_image,
                            open_layout, verify_layout, write_layer)
from ksbuild.images.config import LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION
from ksbuild.images.manifest import image_index, parse_index, parse_manifest
from ksbuild.images.oci import (OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor,
                                canonical_json)

EPOCH = 1_700_000_000
PLATFORMS = [Platform("linux", "amd64"), Platform("linux", "arm64")]
SETTINGS = ImageSettings(source_date_epoch=EPOCH, entrypoint=("/app/hello",), env=(("PATH", "/app"),),
                         user="65532:65532", source="https://github.com/example/hello", revision="abc123",
                         version="1.2.3", history="ksbuild go_image")


def files_on_disk(directory, content=b"#!/bin/sh\necho hello\n"):
    """The same files, written in `directory` with its own mtimes and modes."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hello.sh").write_bytes(content)
    os.chmod(directory / "hello.sh", 0o700)
    return [LayerFile("/app/hello", str(directory / "hello.sh"), 0o755),
            LayerFile("etc/motd", b"hi\n"),
            LayerFile("app/data/b.txt", b"b"), LayerFile("app/data/a.txt", b"a")]


def build(directory, content=b"#!/bin/sh\necho hello\n", platforms=PLATFORMS, settings=SETTINGS, base=None):
    """An image (one layer per platform) built entirely inside `directory`."""
    images = []
    for platform in platforms:
        files = files_on_disk(directory / "src", content + str(platform).encode())
        layer = write_layer(files, EPOCH, str(directory / f"layer-{platform.architecture}.tar.gz"))
        images.append(PlatformLayers(platform, (layer,)))
    return build_image(str(directory / "image"), images, settings, base=base)


def tree(directory):
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_the_same_files_give_the_same_layer(tmp_path):
    first = write_layer(files_on_disk(tmp_path / "one"), EPOCH, str(tmp_path / "one.tar.gz"))
    os.utime(tmp_path / "one" / "hello.sh", (1, 1))
    files = files_on_disk(tmp_path / "other" / "deeper")
    os.utime(tmp_path / "other" / "deeper" / "hello.sh", (2_000_000_000, 2_000_000_000))
    second = write_layer(reversed(files), EPOCH, str(tmp_path / "two.tar.gz"))
    assert (first.digest, first.size, first.diff_id) == (second.digest, second.size, second.diff_id)
    data = (tmp_path / "one.tar.gz").read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(data).hexdigest() and first.size == len(data)
    assert first.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
    # bytes or a file, the same content is the same layer; another epoch is another layer
    content = (tmp_path / "one" / "hello.sh").read_bytes()
    as_bytes = [LayerFile(f.path, content, f.mode) if isinstance(f.source, str) else f for f in files]
    assert write_layer(as_bytes, EPOCH, str(tmp_path / "three.tar.gz")).digest == first.digest
    assert write_layer(files, EPOCH + 1, str(tmp_path / "four.tar.gz")).diff_id != first.diff_id


def test_layer_entries_are_sorted_owned_by_root_and_stamped(tmp_path):
    layer = write_layer(files_on_disk(tmp_path / "src"), EPOCH, str(tmp_path / "layer.tar.gz"))
    with tarfile.open(layer.path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["app", "app/data", "app/data/a.txt", "app/data/b.txt", "app/hello",
                                             "etc", "etc/motd"]
        assert all((m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", EPOCH) for m in members)
        modes = {m.name: (m.type, m.mode) for m in members}
        assert modes["app"] == (tarfile.DIRTYPE, 0o755) and modes["app/hello"] == (tarfile.REGTYPE, 0o755)
        assert modes["etc/motd"] == (tarfile.REGTYPE, 0o644)
        assert tar.extractfile("app/hello").read() == b"#!/bin/sh\necho hello\n"
    raw = gzip.decompress((tmp_path / "layer.tar.gz").read_bytes())
    assert raw[257:263] == b"ustar\x00" and raw[156:157] == b"5"  # USTAR headers, no PAX needed; a directory
    assert raw[0:4] == b"app/" and len(raw) % 10240 == 0


def test_gzip_header_has_no_time_and_no_name(tmp_path):
    layer = write_layer([LayerFile("a", b"a")], EPOCH, str(tmp_path / "named-file.tar.gz"))
    header = (tmp_path / "named-file.tar.gz").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"  # gzip, deflate
    assert header[3] == 0  # FLG: no FNAME, no FCOMMENT, no FEXTRA
    assert header[4:8] == b"\x00\x00\x00\x00"  # MTIME 0
    assert header[9] == 255  # OS unknown: the same on every machine
    assert layer.descriptor().media_type == OCI_LAYER_GZIP


def test_long_and_non_ascii_paths_use_pax_and_stay_deterministic(tmp_path):
    long_path = "/".join(["directory-name-that-is-long"] * 12) + "/fïle"
    first = write_layer([LayerFile(long_path, b"x")], EPOCH, str(tmp_path / "one.tar.gz"))
    second = write_layer([LayerFile(long_path, b"x")], EPOCH, str(tmp_path / "two.tar.gz"))
    assert first.digest == second.digest
    with tarfile.open(first.path) as tar:
        assert tar.getnames()[-1] == long_path and tar.pax_headers == {}


@pytest.mark.parametrize("files, message", [
    ([LayerFile("../etc/passwd", b"x")], "without '..'"),
    ([LayerFile("/", b"x")], "below the image's root"),
    ([LayerFile("a", b"1"), LayerFile("/a", b"2")], "given twice"),
    ([LayerFile("a", b"1"), LayerFile("a/b", b"2")], "is a file and the directory of"),
    ([LayerFile("a", b"1", 0o10000)], "not a permission mode"),
], ids=["dot-dot", "root", "twice", "file-and-directory", "mode"])
def test_bad_layer_entries_are_refused(tmp_path, files, message):
    with pytest.raises(ImageError, match=message):
        write_layer(files, EPOCH, str(tmp_path / "layer.tar.gz"))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_image_digest_does_not_depend_on_where_it_is_built(tmp_path):
    first = build(tmp_path / "a")
    second = build(tmp_path / "somewhere" / "else" / "b", platforms=list(reversed(PLATFORMS)))
    assert first.digest == second.digest and first.media_type == OCI_INDEX
    assert tree(tmp_path / "a" / "image") == tree(tmp_path / "somewhere" / "else" / "b" / "image")
    # rebuilding in place gives the same directory again, and another content another digest
    assert build(tmp_path / "a").digest == first.digest
    assert build(tmp_path / "c", content=b"other").digest != first.digest


def test_layout_documents(tmp_path):
    root = build(tmp_path)
    layout = verify_layout(str(tmp_path / "image"))
    assert (tmp_path / "image" / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    index_json = json.loads((tmp_path / "image" / "index.json").read_bytes())
    assert index_json == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": root.digest, "size": root.size}]}
    index = layout.index(layout.root)
    assert [str(d.platform) for d in index.manifests] == ["linux/amd64", "linux/arm64"]
    for entry in index.manifests:
        manifest = layout.manifest(entry)
        assert entry.media_type == OCI_MANIFEST and manifest.config.media_type == OCI_CONFIG
        assert [layer.media_type for layer in manifest.layers] == [OCI_LAYER_GZIP]
        config = layout.config(manifest.config)
        assert (config["os"], config["architecture"]) == (entry.platform.os, entry.platform.architecture)
        assert config["created"] == "2023-11-14T22:13:20Z"
        assert config["config"] == {
            "Entrypoint": ["/app/hello"], "Env": ["PATH=/app"], "User": "65532:65532",
            "Labels": {LABEL_SOURCE: "https://github.com/example/hello", LABEL_REVISION: "abc123",
                       LABEL_VERSION: "1.2.3"}}
        assert config["rootfs"] == {"type": "layers", "diff_ids": [
            "sha256:" + hashlib.sha256(gzip.decompress(open(layout.blob_path(manifest.layers[0].digest), "rb")
                                                       .read())).hexdigest()]}
        assert config["history"] == [{"created": "2023-11-14T22:13:20Z", "created_by": "ksbuild go_image"}]
        # every document is canonical: re-serializing gives the same bytes
        for descriptor in (entry, manifest.config):
            data = layout.read_blob(descriptor, 1 << 20)
            assert canonical_json(json.loads(data)) == data


def test_canonical_json_is_sorted_compact_utf8_and_refuses_floats():
    value = {"b": [1, {"d": "é", "c": None}], "a": True}
    assert canonical_json(value) == '{"a":true,"b":[1,{"c":null,"d":"é"}]}'.encode()
    with pytest.raises(ImageError, match="integers only"):
        canonical_json({"a": 1.5})


def test_index_sorts_platforms_and_refuses_duplicates():
    def entry(arch, variant=""):
        return Descriptor(OCI_MANIFEST, "sha256:" + hashlib.sha256(arch.encode()).hexdigest(), 1,
                          Platform("linux", arch, variant))
    one, _ = image_index([entry("arm64"), entry("arm", "v7"), entry("amd64")])
    two, _ = image_index([entry("amd64"), entry("arm", "v7"), entry("arm64")])
    assert one == two
    assert [str(d.platform) for d in parse_index(one, OCI_INDEX, "test").manifests] == \
        ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    with pytest.raises(ImageError, match="given twice"):
        image_index([entry("amd64"), entry("amd64")])
    assert Platform.parse("linux/arm64").matches(Platform("linux", "arm64", "v8"))


def test_a_corrupt_or_incomplete_layout_is_refused(tmp_path):
    build(tmp_path)
    layout = open_layout(str(tmp_path / "image"))
    amd64 = layout.index(layout.root).manifests[0]
    layer = layout.manifest(amd64).layers[0]
    path = layout.blob_path(layer.digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    with pytest.raises(ImageError, match="not the .* bytes its digest names"):
        verify_layout(str(tmp_path / "image"))
    os.unlink(layout.blob_path(amd64.digest))
    with pytest.raises(ImageError, match="No such file"):
        verify_layout(str(tmp_path / "image"))
    (tmp_path / "image" / "index.json").write_text("[1, 2")
    with pytest.raises(ImageError, match="not JSON"):
        open_layout(str(tmp_path / "image"))


def test_manifest_parsing_checks_hostile_input():
    good = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}
    assert parse_manifest(json.dumps(good).encode(), OCI_MANIFEST, "m").layers == ()
    for change, message in [({"schemaVersion": 1}, "schemaVersion"),
                            ({"mediaType": OCI_INDEX}, "says it is"),
                            ({"config": {"mediaType": OCI_CONFIG, "digest": "md5:00", "size": 2}}, "not a sha256"),
                            ({"config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "0" * 64, "size": -1}},
                             "not a size"),
                            ({"layers": "no"}, "not a list")]:
        with pytest.raises(ImageError, match=message):
            parse_manifest(json.dumps({**good, **change}).encode(), OCI_MANIFEST, "m")
    with pytest.raises(ImageError, match="more than"):
        parse_manifest(b" " * (4 * 2**20 + 1), OCI_MANIFEST, "m")


def test_an_image_on_a_base_keeps_the_base_layers_and_settings(tmp_path):
    base_settings = ImageSettings(source_date_epoch=1, entrypoint=("/bin/sh",), cmd=("-c", "true"),
                                  env=(("PATH", "/bin"), ("LANG", "C")), workdir="/root", labels=(("team", "base"),),
                                  history="base layer")
    base = build(tmp_path / "base", content=b"base", settings=base_settings)
    image = build(tmp_path / "app", base=str(tmp_path / "base" / "image"))
    base_layout, layout = open_layout(str(tmp_path / "base" / "image")), verify_layout(str(tmp_path / "app" / "image"))
    for platform in PLATFORMS:
        below = base_layout.manifest(base_layout.platform_manifest(platform))
        entry = layout.platform_manifest(platform)
        manifest = layout.manifest(entry)
        assert manifest.layers[0] == below.layers[0] and len(manifest.layers) == 2
        assert dict(manifest.annotations) == {"org.opencontainers.image.base.digest":
                                              base_layout.platform_manifest(platform).digest}
        config = layout.config(manifest.config)
        assert config["rootfs"]["diff_ids"][0] == base_layout.config(below.config)["rootfs"]["diff_ids"][0]
        assert config["config"]["Entrypoint"] == ["/app/hello"] and "Cmd" not in config["config"]
        assert config["config"]["Env"] == ["LANG=C", "PATH=/app"]
        assert config["config"]["WorkingDir"] == "/root" and config["config"]["Labels"]["team"] == "base"
        assert [h["created_by"] for h in config["history"]] == ["base layer", "ksbuild go_image"]
    assert image.digest != base.digest
    assert build(tmp_path / "again", base=str(tmp_path / "base" / "image")).digest == image.digest


def test_a_base_without_the_platform_says_which_it_has(tmp_path):
    build(tmp_path / "base", platforms=[Platform("linux", "amd64")])
    with pytest.raises(ImageError, match=r"no linux/s390x manifest \(it has: linux/amd64\)"):
        build(tmp_path / "app", platforms=[Platform("linux", "s390x")], base=str(tmp_path / "base" / "image"))
    assert not (tmp_path / "app" / "image").exists()
