"""One contract, every store: the local disk store, a shared directory (`file://`), and the Bazel
HTTP cache protocol against a real nginx with WebDAV on 127.0.0.1."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest

from ksbuild.cache.actioncache import _remote_store
from ksbuild.cache.config import CacheConfig
from ksbuild.cache.store import DiskStore
from tests.servers import nginx_webdav

KINDS = ["local", "shared-directory", "http-nginx"]


@pytest.fixture(params=KINDS)
def make_store(request, tmp_path):
    """A factory: each call gives a new client of the same store (threads need their own)."""
    if request.param == "local":
        yield lambda: DiskStore(str(tmp_path / "local"))
    elif request.param == "shared-directory":
        config = CacheConfig(local_dir="", max_size=0, remote=(tmp_path / "shared").as_uri(), mode="rw")
        yield lambda: _remote_store(config)
    else:
        with nginx_webdav(tmp_path / "nginx") as server:
            config = CacheConfig(local_dir="", max_size=0, remote=server.url + "/prefix", mode="rw", timeout=5)
            yield lambda: _remote_store(config)


def blob(tmp_path, content: bytes) -> tuple[str, str]:
    path = tmp_path / hashlib.sha256(content).hexdigest()[:8]
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest(), str(path)


def test_misses(make_store, tmp_path):
    store = make_store()
    assert store.get_entry("0" * 64) is None
    assert store.get_blob("1" * 64, str(tmp_path / "out")) is False
    assert store.has_blob("1" * 64) is False
    assert not (tmp_path / "out").exists() or (tmp_path / "out").stat().st_size == 0


def test_blobs_round_trip_byte_for_byte(make_store, tmp_path):
    store = make_store()
    for content in (b"", b"kind: CustomResourceDefinition\n", os.urandom(3 * 2**20 + 7)):
        digest, source = blob(tmp_path, content)
        store.put_blob(digest, source)
        assert store.has_blob(digest)
        assert store.get_blob(digest, str(tmp_path / "back")) is True
        assert (tmp_path / "back").read_bytes() == content


def test_entries_round_trip_and_are_replaced(make_store):
    store = make_store()
    key = "a" * 64
    store.put_entry(key, b'{"format": 1}')
    assert store.get_entry(key) == b'{"format": 1}'
    store.put_entry(key, b'{"format": 1, "replaced": true}')
    assert store.get_entry(key) == b'{"format": 1, "replaced": true}'


def test_forced_put_replaces_a_bad_blob(make_store, tmp_path):
    store = make_store()
    digest, source = blob(tmp_path, b"the real content\n")
    _, wrong = blob(tmp_path, b"corrupt")
    store.put_blob(digest, wrong, force=True)  # what a corrupted store holds
    store.put_blob(digest, source)  # an ordinary put keeps what is there
    store.get_blob(digest, str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"corrupt"
    store.put_blob(digest, source, force=True)
    store.get_blob(digest, str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"the real content\n"


def test_concurrent_writers_of_one_key_leave_one_whole_copy(make_store, tmp_path):
    content = os.urandom(2**20)
    digest, source = blob(tmp_path, content)
    entry = b'{"format": 1, "outputs": []}' + b" " * 4096
    errors = []

    def write():
        try:
            store = make_store()
            for _ in range(5):
                store.put_blob(digest, source, force=True)
                store.put_entry("c" * 64, entry)
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = make_store()
    assert store.get_entry("c" * 64) == entry
    store.get_blob(digest, str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == content
