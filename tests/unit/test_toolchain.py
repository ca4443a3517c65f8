"""Go toolchains and the tool store, with a fake `go`: release names, pinned toolchains and their
cache, the sandbox's GOTOOLCHAIN, and what a failed `go install` is said to be."""
import json
import os
import stat

import pytest

from ksbuild.model import ToolPin
from ksbuild.toolchain import store
from ksbuild.toolchain.goenv import (BadGoVersion, GoEnv, GoMissing, ToolchainUnavailable, check_go_version, go_env,
                                     toolchain_for)

# Real `go install` outputs, captured with Go 1.26.8 (and 1.21.13, 1.20.14); the proxy's host is replaced.
COMPILE_ERROR = """\
go: downloading sigs.k8s.io/controller-tools v0.14.0
go: downloading golang.org/x/tools v0.16.1
go: downloading golang.org/x/text v0.14.0
# golang.org/x/tools/internal/tokeninternal
/root/go/pkg/mod/golang.org/x/tools@v0.16.1/internal/tokeninternal/tokeninternal.go:78:9: invalid array length \
-delta * delta (constant -256 of type int64)
"""
REQUIRES_NEWER = ("go: golang.org/x/tools/cmd/stringer@v0.52.0: golang.org/x/tools@v0.52.0 requires go >= 1.26.0 "
                  "(running go 1.21.13; GOTOOLCHAIN=local)\n")
INVALID_GO_VERSION = ("go: golang.org/x/tools/cmd/stringer@v0.25.0 (in golang.org/x/tools@v0.25.0): go.mod:3: "
                      "invalid go version '1.22.0': must match format 1.23\n")
UNKNOWN_VERSION = """\
go: golang.org/x/tools/cmd/stringer@v0.999.0: golang.org/x/tools/cmd/stringer@v0.999.0: reading \
https://goproxy.example/golang.org/x/tools/cmd/stringer/@v/v0.999.0.info: 403 Forbidden
\tserver response: This module version is not available.
"""
NOT_FOUND = ("go: example.test/greet@v9.9.9: reading https://goproxy.example/example.test/greet/@v/v9.9.9.info: "
             "404 Not Found\n")
FILE_PROXY_MISSING = ("go: example.test/greet@v9.9.9: example.test/greet@v9.9.9: reading "
                      "file:///tmp/goproxy/example.test/greet/@v/v9.9.9.info: no such file or directory\n")
REFUSED = ('go: golang.org/x/tools/cmd/stringer@v0.20.0: golang.org/x/tools/cmd/stringer@v0.20.0: Get '
           '"http://127.0.0.1:9/golang.org/x/tools/cmd/stringer/@v/v0.20.0.info": dial tcp 127.0.0.1:9: connect: '
           'connection refused\n')
NO_HOST = ('go: golang.org/x/tools/cmd/stringer@v0.24.0: loading deprecation for golang.org/x/tools: unrecognized '
           'import path "golang.org/x/tools": https fetch: Get "https://golang.org/x/tools?go-get=1": dial tcp: '
           'lookup golang.org on 192.0.2.53:53: no such host\n')
NO_PACKAGE = ("go: golang.org/x/tools/cmd/nosuch@v0.52.0: module golang.org/x/tools@v0.52.0 found, but does not "
              "contain package golang.org/x/tools/cmd/nosuch\n")

PIN = ToolPin("controller-gen", "sigs.k8s.io/controller-tools/cmd/controller-gen", "v0.14.0")
MACHINE = GoEnv("/usr/local/go/bin/go", {"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64",
                                         "GOROOT": "/usr/local/go", "GOPROXY": "https://goproxy.example",
                                         "GOMODCACHE": "/m", "GOCACHE": "/c"})


@pytest.mark.parametrize("version", ["1.21.13", "1.22.0", "1.23rc1", "1.9.7", "1.100.2"])
def test_releases_are_accepted(version):
    check_go_version(version)


@pytest.mark.parametrize("version, hint", [
    ("go1.21.13", "write it without `go`: 1.21.13"),
    ("1.21", "1.21 is a language version; name a release, e.g. 1.21.0"),
    ("1.20", "e.g. 1.20.1"),
    ("-1.21.13", "e.g. 1.21.13, 1.22.0 or 1.23rc1"),
    ("-toolexec=x", "e.g. 1.21.13"),
    ("1.21.13 ", "e.g. 1.21.13"),
    ("1.21.13\n", "e.g. 1.21.13"),
    ("latest", "e.g. 1.21.13"),
    ("1.23beta1", "e.g. 1.21.13"),
    ("2.0.0", "e.g. 1.21.13"),
    ("1.21.13+auto", "e.g. 1.21.13"),
    ("local", "e.g. 1.21.13"),
])
def test_anything_else_is_refused_with_what_to_write(version, hint):
    with pytest.raises(BadGoVersion) as raised:
        check_go_version(version)
    assert f"Go version {version!r} is not a Go release" in str(raised.value)
    assert hint in str(raised.value)


def test_a_bad_version_is_refused_before_any_go_runs(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BadGoVersion):
        go_env("-x")
    with pytest.raises(GoMissing, match="no `go` command on PATH"):
        go_env("1.21.13")


def test_sandbox_never_switches_toolchains():
    env = GoEnv("/t/bin/go", {**MACHINE.settings, "GOTOOLCHAIN": "auto", "GOROOT": "/t"}).sandbox_env()
    assert env["GOTOOLCHAIN"] == "local"
    assert env["GOROOT"] == "/t"
    assert env["GOPROXY"] == "https://goproxy.example"
    assert (env["GOWORK"], env["GOENV"], env["GOFLAGS"]) == ("off", "off", "-mod=mod")


@pytest.mark.parametrize("output, kind", [
    (COMPILE_ERROR, "compile"), (REQUIRES_NEWER, "compile"), (INVALID_GO_VERSION, "compile"),
    (UNKNOWN_VERSION, "download"), (NOT_FOUND, "download"), (FILE_PROXY_MISSING, "download"),
    (REFUSED, "download"), (NO_HOST, "download"), (NO_PACKAGE, ""), ("", ""),
    ("go: downloading example.test/greet v1.0.0\n", ""),
])
def test_failure_kind(output, kind):
    assert store.failure_kind(output) == kind


@pytest.mark.parametrize("output, release", [
    (REQUIRES_NEWER, "1.26.0"), (INVALID_GO_VERSION, "1.22.0"), ("x requires go >= 1.27 (running go 1.26.8", "1.27.0"),
    ("requires go >= 1.24rc2 (running", "1.24rc2"), (COMPILE_ERROR, ""),
])
def test_required_go(output, release):
    assert store.required_go(output) == release


def test_a_compile_error_says_to_pin_a_go_release():
    message = store.install_failure(PIN, MACHINE, COMPILE_ERROR)
    assert message.startswith("tool 'controller-gen': `go install sigs.k8s.io/controller-tools/cmd/controller-gen"
                              "@v0.14.0` does not compile with go1.26.8: pin the Go release that builds it, e.g. "
                              "`go: 1.21.13` in the tool's pin:\n")
    assert "    /root/go/pkg/mod/golang.org/x/tools@v0.16.1/internal/tokeninternal/tokeninternal.go:78:9:" in message
    assert "proxy" not in message


def test_a_too_old_go_names_the_release_the_module_asks_for():
    old = GoEnv("/t/bin/go", {**MACHINE.settings, "GOVERSION": "go1.21.13"})
    message = store.install_failure(PIN, old, REQUIRES_NEWER)
    assert "does not compile with go1.21.13: pin the Go release that builds it, e.g. `go: 1.26.0`" in message


@pytest.mark.parametrize("output", [UNKNOWN_VERSION, REFUSED, NO_HOST])
def test_a_download_error_points_at_the_version_and_the_proxy(output):
    message = store.install_failure(PIN, MACHINE, output)
    assert message.startswith("tool 'controller-gen': `go install sigs.k8s.io/controller-tools/cmd/controller-gen"
                              "@v0.14.0` failed (go1.26.8, linux-amd64): it could not be downloaded:\n")
    assert "Check the package path and version in workspace.yaml" in message
    assert "the Go module proxy is reachable (`go env GOPROXY`)" in message
    assert "does not compile" not in message


def test_another_failure_keeps_both_hints():
    message = store.install_failure(PIN, MACHINE, NO_PACKAGE)
    assert "failed (go1.26.8, linux-amd64):\n    go: golang.org/x/tools/cmd/nosuch" in message
    assert "Check the package path and version in workspace.yaml" in message


# A fake `go`: `go env -json ...` answers for the machine's go1.26.8, or, with GOTOOLCHAIN=go1.21.13,
# "fetches" that release into $FAKE/toolchain (a GOROOT with its own bin/go); GOTOOLCHAIN=go1.99.1
# fails like a release the proxy does not have. `go install` makes $GOBIN/greet, or fails with $FAIL.
# Every call appends its arguments, GOTOOLCHAIN, GOROOT and working directory's files to $CALLS.
FAKE_GO = r"""#!/bin/sh
echo "$* | GOTOOLCHAIN=$GOTOOLCHAIN GOROOT=$GOROOT | $(ls -A)" >> "$CALLS"
if [ "$1" = install ]; then
  if [ -n "$FAIL" ]; then cat "$FAIL" >&2; exit 1; fi
  mkdir -p "$GOBIN" && printf '#!/bin/sh\necho greet\n' > "$GOBIN/greet" && chmod +x "$GOBIN/greet"; exit 0
fi
case "$GOTOOLCHAIN" in
  go1.99.1) echo "go: downloading go1.99.1 (linux/amd64)" >&2
            echo "go: download go1.99.1: golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64: 403 Forbidden" >&2
            exit 1 ;;
  go1.21.13) root="$FAKE/toolchain"; version=go1.21.13
             mkdir -p "$root/bin" && cp "$0" "$root/bin/go" ;;
  *) root="$FAKE/machine"; version=go1.26.8 ;;
esac
printf '{"GOVERSION": "%s", "GOROOT": "%s", "GOOS": "linux", "GOARCH": "amd64", "GOTOOLCHAIN": "%s",
 "GOPROXY": "https://goproxy.example"}\n' "$version" "$root" "${GOTOOLCHAIN:-auto}"
"""


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    machine_bin = tmp_path / "machine" / "bin"
    machine_bin.mkdir(parents=True)
    go = machine_bin / "go"
    go.write_text(FAKE_GO)
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    for name in list(os.environ):
        if name.startswith("GO"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{machine_bin}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE", str(tmp_path))
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KSBUILD_TOOLS_DIR", str(tmp_path / "tools"))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "go.mod").write_text("module example.test/work\n\ngo 1.30\n\ntoolchain go1.30.1\n")
    monkeypatch.chdir(tmp_path / "work")  # a go.mod that must not choose the toolchain
    return tmp_path


def calls(base) -> list[str]:
    path = base / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_the_machines_go(fake_go):
    go = go_env()
    assert go.go == str(fake_go / "machine/bin/go")
    assert (go.version, go.platform, go.bin_dir) == ("go1.26.8", "linux-amd64", str(fake_go / "machine/bin"))
    assert go.sandbox_env()["GOTOOLCHAIN"] == "local"
    [call] = calls(fake_go)
    assert call.startswith("env -json GOVERSION GOOS GOARCH GOROOT ")
    assert call.endswith("| GOTOOLCHAIN= GOROOT= | ")  # the caller's setting, in an empty directory
    assert go_env() == go and len(calls(fake_go)) == 1  # cached


def test_a_pinned_release_is_fetched_once_and_run_directly(fake_go):
    go = go_env("1.21.13")
    assert go.go == str(fake_go / "toolchain/bin/go")
    assert (go.version, go.bin_dir) == ("go1.21.13", str(fake_go / "toolchain/bin"))
    assert go.identity == ["go1.21.13", "linux-amd64"]
    env = go.sandbox_env()
    assert (env["GOTOOLCHAIN"], env["GOROOT"]) == ("local", str(fake_go / "toolchain"))
    [call] = calls(fake_go)
    assert call.endswith("| GOTOOLCHAIN=go1.21.13 GOROOT= | ")
    assert go_env("1.21.13") == go and len(calls(fake_go)) == 1  # cached, apart from the machine's
    assert go_env().version == "go1.26.8" and len(calls(fake_go)) == 2
    pin = ToolPin("greet", "example.test/greet", "v1.0.0", go="1.21.13")
    assert toolchain_for(pin) == go
    assert toolchain_for(ToolPin("greet", "example.test/greet", "v1.0.0"), "1.21.13") == go
    assert toolchain_for(ToolPin("greet", "example.test/greet", "v1.0.0")).version == "go1.26.8"


def test_a_cleaned_module_cache_fetches_the_release_again(fake_go):
    go_env("1.21.13")
    (fake_go / "toolchain/bin/go").unlink()
    assert go_env("1.21.13").go == str(fake_go / "toolchain/bin/go")
    assert len(calls(fake_go)) == 2


def test_a_release_that_cannot_be_fetched(fake_go):
    with pytest.raises(ToolchainUnavailable) as raised:
        go_env("1.99.1")
    message = str(raised.value)
    assert message.startswith("Go 1.99.1 could not be fetched (`GOTOOLCHAIN=go1.99.1 go env`")
    assert "    go: download go1.99.1: golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64: 403 Forbidden" in message
    assert "(`go env GOPROXY`)" in message
    assert isinstance(raised.value, GoMissing)  # callers that catch GoMissing catch this too
    assert not (fake_go / "cache/ksbuild/go-env").exists() or not any((fake_go / "cache/ksbuild/go-env").iterdir())


def test_install_builds_with_exactly_that_toolchain(fake_go):
    go = go_env("1.21.13")
    pin = ToolPin("greet", "example.test/greet", "v1.0.0", go="1.21.13")
    binary = store.install(pin, go)
    assert binary == store.binary_path(pin, go)
    assert binary.startswith(str(fake_go / "tools")) and "/go1.21.13-linux-amd64/bin/" in binary
    install = calls(fake_go)[-1]
    assert install.startswith("install example.test/greet@v1.0.0 | ")
    assert f"GOTOOLCHAIN=local GOROOT={fake_go / 'toolchain'} |" in install


def test_install_failure_is_classified(fake_go, monkeypatch):
    (fake_go / "out").write_text(COMPILE_ERROR)
    monkeypatch.setenv("FAIL", str(fake_go / "out"))
    with pytest.raises(store.ToolInstallError, match=r"does not compile with go1\.26\.8: pin the Go release"):
        store.install(PIN, go_env())
    (fake_go / "out").write_text(UNKNOWN_VERSION)
    with pytest.raises(store.ToolInstallError, match="it could not be downloaded"):
        store.install(PIN, go_env())
    assert not store.installed_digest(PIN, go_env())


def test_cached_answers_are_json(fake_go):
    go_env("1.21.13")
    [cached] = (fake_go / "cache/ksbuild/go-env").iterdir()
    assert json.loads(cached.read_text())["GOVERSION"] == "go1.21.13"
