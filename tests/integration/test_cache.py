"""The action cache between clones and runners: a real nginx (WebDAV, the Bazel HTTP cache
protocol) or a shared directory as the remote, each clone with its own local cache."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DODO, Workspace, copy_constellation
from tests.servers import free_port, nginx_webdav, silent_server

pytestmark = pytest.mark.integration

DERIVED = {"kubestellar:deepcopy", "kubestellar:crds", "kubestellar:clients", "kubestellar:chart-templates",
           "ocm-status-addon:deepcopy", "ocm-status-addon:manifests", "ocm-status-addon:chart",
           "probe-operator:deepcopy", "probe-operator:manifests", "probe-operator:chart"}

SMALL_WORKSPACE = """\
components:
  app:
    path: app
{cache}"""
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
    outs: [out/lines.txt, out/script.sh]
    cmd: [sh, -c, "wc -l < in.txt > out/lines.txt; printf '#!/bin/sh\\\\necho hi\\\\n' > out/script.sh; chmod 755 out/script.sh"]
"""


LARGE = "one\ntwo\n" * 4096  # upper.txt from it is larger than an entry carries inline: a blob


def small(root: Path, cache_yaml: str = "") -> Workspace:
    ws = Workspace(root)
    root.mkdir(parents=True)
    ws.write("dodo.py", DODO)
    ws.write("workspace.yaml", SMALL_WORKSPACE.format(cache=cache_yaml), dedent=False)
    ws.write("app/BUILD.yaml", SMALL_BUILD, dedent=False)
    ws.write("app/in.txt", "one\ntwo\n")
    return ws


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under components/ (or app/) with its bytes and mode."""
    found = {}
    for top in ("components", "app"):
        for path in sorted((root / top).rglob("*")) if (root / top).exists() else ():
            if path.is_file():
                found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return found


def cache_records(ws: Workspace) -> dict[str, tuple[str, str]]:
    return {t["task"]: (t["status"], t.get("cache", "")) for t in ws.last_run()["tasks"]}


@pytest.mark.parametrize("remote", ["nginx", "shared-directory"])
def test_a_second_clone_runs_no_tool(remote, tmp_path):
    first = copy_constellation(tmp_path / "runner-1" / "work")
    second = copy_constellation(tmp_path / "runner-2" / "elsewhere" / "checkout")
    if remote == "nginx":
        with nginx_webdav(tmp_path / "nginx") as server:
            for ws in (first, second):
                ws.env["KSBUILD_REMOTE_CACHE"] = server.url
            first.doit("generate")
            second.doit("generate")
            assert any(r.startswith("PUT /cas/") for r in server.requests())
    else:
        for ws in (first, second):
            ws.env["KSBUILD_REMOTE_CACHE"] = (tmp_path / "shared").as_uri()
        first.doit("generate")
        second.doit("generate")

    assert first.executed() == DERIVED
    assert second.executed() == set()
    assert cache_records(second) == {task: ("cache-hit", "remote") for task in DERIVED}
    assert "10 tasks: 0 executed, 10 from cache" in second.last_run()["summary"]
    assert tree(second.root) == tree(first.root)
    assert first.env["KSBUILD_CACHE_DIR"] != second.env["KSBUILD_CACHE_DIR"]
    # the remote hit filled the second clone's local cache: a third build there needs no remote
    shutil.rmtree(second.root / ".ksbuild")
    second.env["KSBUILD_REMOTE_CACHE"] = "http://127.0.0.1:9"  # nothing listens there
    second.doit("generate")
    assert cache_records(second) == {task: ("cache-hit", "local") for task in DERIVED}


def test_corrupted_blobs_are_misses_and_get_replaced(tmp_path):
    with nginx_webdav(tmp_path / "nginx") as server:
        first, second, third = (small(tmp_path / name) for name in ("one", "two", "three"))
        for ws in (first, second, third):
            ws.env["KSBUILD_REMOTE_CACHE"] = server.url
            ws.write("app/in.txt", LARGE)
        first.doit()
        blobs = [p for p in server.files() if p.parent.name == "cas"]
        upper = next(p for p in blobs if p.read_bytes() == LARGE.upper().encode())
        upper.write_bytes(b"ONE\nTW")  # truncated
        result = second.doit()
        assert second.statuses() == {"app:upper": "executed", "app:lines": "cache-hit"}
        assert f"remote cache: blob {upper.name[:12]} (app/out/upper.txt) is corrupt" in result.stderr
        assert second.read("app/out/upper.txt") == LARGE.upper()
        assert upper.read_bytes() == LARGE.upper().encode(), "the run replaced the corrupt blob"
        third.doit()
        assert third.statuses() == {"app:upper": "cache-hit", "app:lines": "cache-hit"}
        assert tree(third.root) == tree(first.root)
        assert (third.root / "app/out/script.sh").stat().st_mode & 0o777 == 0o755


def test_a_corrupted_local_blob_is_a_miss(tmp_path):
    ws = small(tmp_path / "ws")
    ws.write("app/in.txt", LARGE)
    ws.doit()
    local = Path(ws.env["KSBUILD_CACHE_DIR"])
    for blob in (local / "cas").rglob("*"):
        if blob.is_file() and blob.read_bytes() == LARGE.upper().encode():
            blob.write_bytes(LARGE.encode())
    shutil.rmtree(ws.root / ".ksbuild")
    result = ws.doit()
    assert ws.statuses() == {"app:upper": "executed", "app:lines": "cache-hit"}
    assert "local cache: blob" in result.stderr and "is corrupt" in result.stderr
    assert ws.read("app/out/upper.txt") == LARGE.upper()


def test_small_outputs_travel_inside_their_entry_and_tampering_with_one_is_a_miss(tmp_path):
    ws = small(tmp_path / "ws")
    ws.doit()
    local = Path(ws.env["KSBUILD_CACHE_DIR"])
    assert not (local / "cas").exists() or not any(p.is_file() for p in (local / "cas").rglob("*")), \
        "small outputs went to blobs"
    entries = [p for p in (local / "ac").rglob("*") if p.is_file()]
    tampered = next(p for p in entries if base64.b64encode(b"ONE\nTWO\n") in p.read_bytes())
    tampered.write_bytes(tampered.read_bytes().replace(base64.b64encode(b"ONE\nTWO\n"),
                                                       base64.b64encode(b"ONE\nTW0\n")))
    shutil.rmtree(ws.root / ".ksbuild")
    (ws.root / "app/out/upper.txt").unlink()
    result = ws.doit()
    assert ws.statuses() == {"app:upper": "executed", "app:lines": "cache-hit"}
    shown = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(shown) == 1 and "has content for 'app/out/upper.txt' that does not match its size and digest" \
        in shown[0], result.stderr
    assert ws.read("app/out/upper.txt") == "ONE\nTWO\n"
    assert base64.b64encode(b"ONE\nTWO\n") in tampered.read_bytes(), "the run replaced the tampered entry"
    assert (ws.root / "app/out/script.sh").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("server", ["dead", "silent", "failing"])
def test_a_broken_remote_costs_one_warning_and_the_build_goes_on(server, tmp_path):
    ws = small(tmp_path / "ws", cache_yaml="cache:\n  remote_timeout: 1\n")
    if server == "dead":
        ws.env["KSBUILD_REMOTE_CACHE"] = f"http://127.0.0.1:{free_port()}"
        result = ws.doit()
    elif server == "silent":
        with silent_server() as url:
            ws.env["KSBUILD_REMOTE_CACHE"] = url
            result = ws.doit()
    else:
        with nginx_webdav(tmp_path / "nginx") as nginx:
            (nginx.data / "ac").write_text("a file where a directory should be: every request fails")
            ws.env["KSBUILD_REMOTE_CACHE"] = nginx.url
            result = ws.doit()
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert "remote cache:" in warnings[0] and "going on without the remote cache for this run" in warnings[0]
    assert ws.statuses() == {"app:upper": "executed", "app:lines": "executed"}
    assert ws.read("app/out/upper.txt") == "ONE\nTWO\n"


def test_read_only_mode_never_writes(tmp_path):
    with nginx_webdav(tmp_path / "nginx") as server:
        ws = small(tmp_path / "ws")
        ws.env.update(KSBUILD_REMOTE_CACHE=server.url, KSBUILD_REMOTE_CACHE_MODE="ro")
        ws.doit()
        assert ws.executed() == {"app:upper", "app:lines"}
        assert server.files() == []
        assert [r for r in server.requests() if not r.startswith(("GET ", "HEAD "))] == []
        # a trusted build writes; then an untrusted one reads
        trusted = small(tmp_path / "trusted")
        trusted.env["KSBUILD_REMOTE_CACHE"] = server.url
        trusted.doit()
        reader = small(tmp_path / "reader")
        reader.env.update(KSBUILD_REMOTE_CACHE=server.url, KSBUILD_REMOTE_CACHE_MODE="ro")
        reader.doit()
        assert cache_records(reader) == {"app:upper": ("cache-hit", "remote"), "app:lines": ("cache-hit", "remote")}


def test_concurrent_runners_writing_the_same_keys(tmp_path):
    with nginx_webdav(tmp_path / "nginx") as server:
        runners = [small(tmp_path / f"runner{i}") for i in range(3)]
        for ws in runners:
            ws.env["KSBUILD_REMOTE_CACHE"] = server.url
        processes = [subprocess.Popen([sys.executable, "-m", "doit"], cwd=ws.root, env=ws.run_env(),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for ws in runners]
        outputs = [p.communicate(timeout=120)[0] for p in processes]
        assert [p.returncode for p in processes] == [0, 0, 0], outputs
        late = small(tmp_path / "late")
        late.env["KSBUILD_REMOTE_CACHE"] = server.url
        late.doit()
        assert late.executed() == set()
        assert tree(late.root) == tree(runners[0].root)


def test_the_authorization_header_comes_from_the_environment_and_is_never_shown(tmp_path):
    token = "Bearer s3cret-token-value"
    with nginx_webdav(tmp_path / "nginx", token=token) as server:
        ws = small(tmp_path / "ws")
        ws.env["KSBUILD_REMOTE_CACHE"] = server.url
        refused = ws.doit()
        assert "HTTP 401" in refused.stderr
        ws.env["KSBUILD_REMOTE_CACHE_AUTH"] = token
        shutil.rmtree(ws.root / ".ksbuild")
        shutil.rmtree(ws.env["KSBUILD_CACHE_DIR"])
        stored = ws.doit()
        assert any(r.startswith("PUT /ac/") and r.endswith(" 201") for r in server.requests())
        reader = small(tmp_path / "reader")
        reader.env.update(KSBUILD_REMOTE_CACHE=server.url, KSBUILD_REMOTE_CACHE_AUTH=token)
        shown = reader.doit("-v", "2")
        assert reader.executed() == set()
        for text in (refused.stdout, refused.stderr, stored.stdout, stored.stderr, shown.stdout, shown.stderr,
                     json.dumps(reader.last_run()), reader.doit("info", "app:upper").stdout):
            assert "s3cret" not in text


def test_a_miss_is_explained(tmp_path):
    ws = small(tmp_path / "ws")
    ws.doit()
    assert ws.last_run()["tasks"][0]["miss"] == "no entry for this key; no earlier key recorded here"
    ws.write("app/in.txt", "three\n")
    ws.doit()
    misses = {t["task"]: t.get("miss") for t in ws.last_run()["tasks"]}
    assert misses == {"app:upper": "no entry for this key; input changed: app/in.txt",
                      "app:lines": "no entry for this key; input changed: app/in.txt"}
    explained = ws.doit("explain", "app:upper").stdout.splitlines()
    assert explained[:2] == ["app:upper: executed, because input changed: app/in.txt",
                             "  cache: no entry for this key; input changed: app/in.txt"]
    assert explained[2].startswith("  action 1: key ")
    ws.write("app/in.txt", "one\ntwo\n")  # back to what the cache has
    ws.doit()
    assert ws.statuses() == {"app:upper": "cache-hit", "app:lines": "cache-hit"}


def test_cache_gc_trims_to_the_limit(tmp_path):
    ws = small(tmp_path / "ws", cache_yaml="cache:\n  max_size: 100B\n")
    ws.doit()
    local = Path(ws.env["KSBUILD_CACHE_DIR"])
    assert sum(p.stat().st_size for p in local.rglob("*") if p.is_file()) > 100
    listing = ws.doit("cache-gc").stdout
    assert "ksbuild: cache-gc: removed" in listing
    assert sum(p.stat().st_size for p in local.rglob("*") if p.is_file()) <= 100
    shutil.rmtree(ws.root / ".ksbuild")
    ws.doit()  # whatever is left never restores a wrong file
    assert ws.read("app/out/upper.txt") == "ONE\nTWO\n"


def test_bad_cache_settings_are_refused(tmp_path):
    ws = small(tmp_path / "ws", cache_yaml="cache:\n  remote: ftp://cache\n  remote_mode: sometimes\n")
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "workspace.yaml:5: cache: remote 'ftp://cache' is not an http://, https:// or file:// URL" in result.stderr
    assert "workspace.yaml:6: cache: remote_mode 'sometimes' is not one of rw, ro, off" in result.stderr
    ws = small(tmp_path / "ws2")
    ws.env.update(KSBUILD_REMOTE_CACHE="http://127.0.0.1:9", KSBUILD_REMOTE_CACHE_MODE="readwrite")
    result = ws.doit(check=False)
    assert result.returncode == 2  # a configuration error
    assert "KSBUILD_REMOTE_CACHE_MODE='readwrite' is not one of rw, ro, off" in result.stderr
    assert "Traceback" not in result.stderr
