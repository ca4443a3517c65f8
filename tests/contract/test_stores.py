"""One contract, every store: the local disk store, a shared directory (`file://`), and the Bazel
HTTP cache protocol against a real nginx with WebDAV on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time

import pytest

from ksbuild.cache.actioncache import _remote_store
from ksbuild.cache.config import CacheConfig
from ksbuild.cache.config import MAX_ENTRY_SIZE
from ksbuild.cache.store import DiskStore, StoreError, Untrusted
from tests.servers import nginx_webdav

KINDS = ["local", "shared-directory", "http-nginx"]


@pytest.fixture(params=KINDS)
def make_store(request, tmp_path):
    """A factory: each call gives a new client of the same store (threads need their own);
    `make_store(read_only=True)` a client in `ro` mode. `make_store.data` is the directory the
    store's bytes end up in (nginx's document root for the HTTP store)."""
    def config(url: str, read_only: bool) -> CacheConfig:
        return CacheConfig(local_dir="", max_size=0, remote=url, mode="ro" if read_only else "rw", timeout=5)

    if request.param == "local":
        def factory(read_only=False):
            return DiskStore(str(tmp_path / "local"), read_only=read_only)
        factory.data = tmp_path / "local"
        yield factory
    elif request.param == "shared-directory":
        def factory(read_only=False):
            return _remote_store(config((tmp_path / "shared").as_uri(), read_only))
        factory.data = tmp_path / "shared"
        yield factory
    else:
        with nginx_webdav(tmp_path / "nginx") as server:
            def factory(read_only=False):
                return _remote_store(config(server.url + "/prefix", read_only))
            factory.data = server.data
            factory.server = server
            yield factory


def snapshot(directory) -> dict:
    """Every file below `directory`: its bytes and its mtime (a mark of use is a write too)."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()} if directory.exists() else {}


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
    with pytest.raises(Untrusted, match="the entry declares 17"):
        store.get_blob(digest, str(tmp_path / "back"), size=17)
    with pytest.raises(Untrusted, match="does not match its SHA-256"):
        store.get_blob(digest, str(tmp_path / "back"))  # no size declared: the digest still decides
    store.put_blob(digest, source, force=True)
    assert store.get_blob(digest, str(tmp_path / "back"), size=17) is True
    assert (tmp_path / "back").read_bytes() == b"the real content\n"


def test_a_blob_is_checked_against_its_declared_size_before_it_is_copied(make_store, tmp_path):
    store = make_store()
    digest, source = blob(tmp_path, os.urandom(3 * 2**20))
    store.put_blob(digest, source)
    back = tmp_path / "back"
    with pytest.raises(Untrusted, match="declares 10"):
        store.get_blob(digest, str(back), size=10)
    assert not back.exists() or back.stat().st_size == 0, "refused before a byte was copied"
    with pytest.raises(Untrusted, match="declares " + str(3 * 2**20 + 1)):
        store.get_blob(digest, str(back), size=3 * 2**20 + 1)
    assert store.get_blob(digest, str(back), size=3 * 2**20) is True  # and the store still answers
    assert back.read_bytes() == (tmp_path / digest[:8]).read_bytes()


def test_an_oversized_entry_is_refused(make_store):
    store = make_store()
    store.put_entry("d" * 64, b"x" * MAX_ENTRY_SIZE)
    assert store.get_entry("d" * 64) == b"x" * MAX_ENTRY_SIZE
    store.put_entry("e" * 64, b"x" * (MAX_ENTRY_SIZE + 1))
    with pytest.raises(Untrusted, match="larger than an entry may|more than an entry may|more than the"):
        store.get_entry("e" * 64)
    assert store.get_entry("d" * 64) == b"x" * MAX_ENTRY_SIZE  # the store still answers


def test_a_read_only_client_writes_nothing_not_even_a_mark_of_use(make_store, tmp_path):
    writer = make_store()
    digest, source = blob(tmp_path, b"kept\n")
    writer.put_blob(digest, source)
    writer.put_entry("f" * 64, b'{"format": 1}')
    before = snapshot(make_store.data)
    requests = len(logged(make_store.server)) if hasattr(make_store, "server") else 0
    time.sleep(0.01)  # a mark of use would move an mtime
    reader = make_store(read_only=True)
    assert reader.get_entry("f" * 64) == b'{"format": 1}'
    assert reader.get_blob(digest, str(tmp_path / "back"), size=5) is True
    assert reader.has_blob(digest)
    _, other = blob(tmp_path, b"other\n")
    for write in (lambda: reader.put_entry("f" * 64, b"{}"), lambda: reader.put_entry("0" * 64, b"{}"),
                  lambda: reader.put_blob(digest, other, force=True), lambda: reader.put_blob("1" * 64, other)):
        with pytest.raises(StoreError, match="read only"):
            write()
    assert snapshot(make_store.data) == before
    if hasattr(make_store, "server"):
        assert [r.split()[0] for r in logged(make_store.server)[requests:]] == ["GET", "GET", "HEAD"]


def logged(server) -> list[str]:
    """The requests nginx logged, up to now: it logs a request just after it answered it, so one
    more (left out) is made and waited for."""
    sentinel = f"/sentinel-{time.monotonic_ns()}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", sentinel)
    connection.getresponse().read()
    connection.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        requests = server.requests()
        if any(sentinel in r for r in requests):
            return [r for r in requests if "/sentinel-" not in r]
        time.sleep(0.02)
    raise AssertionError("nginx did not log the sentinel request")


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
