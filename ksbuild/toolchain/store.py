"""The tool store: `go install PACKAGE@VERSION`, once per machine, keyed by package, version, Go
version and platform, shared by every workspace. Installs are atomic and serialised per tool, so
two builds installing the same tool at once both end up with one complete copy."""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

from ksbuild.model import ToolPin
from ksbuild.toolchain import cache_home
from ksbuild.toolchain.goenv import GoEnv


class ToolInstallError(Exception):
    pass


def store_dir() -> str:
    return os.environ.get("KSBUILD_TOOLS_DIR") or os.path.join(cache_home(), "tools")


def tool_home(pin: ToolPin, go: GoEnv) -> str:
    key = hashlib.sha256(f"{pin.package}@{pin.version}".encode()).hexdigest()[:12]
    return os.path.join(store_dir(), f"{pin.binary}@{pin.version}-{key}", f"{go.version}-{go.platform}")


def binary_path(pin: ToolPin, go: GoEnv) -> str:
    return os.path.join(tool_home(pin, go), "bin", pin.binary)


def installed_digest(pin: ToolPin, go: GoEnv) -> str | None:
    """The binary's SHA-256 (written last by an install), or None if not installed."""
    try:
        with open(binary_path(pin, go) + ".sha256", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def install(pin: ToolPin, go: GoEnv) -> str:
    """Install `pin` unless it is there; returns the binary's path."""
    if installed_digest(pin, go):
        return binary_path(pin, go)
    home = tool_home(pin, go)
    with _lock(home):
        if installed_digest(pin, go):
            return binary_path(pin, go)
        os.makedirs(os.path.dirname(home), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".installing-", dir=os.path.dirname(home))
        try:
            _go_install(pin, go, staging)
            binary = os.path.join(staging, "bin", pin.binary)
            digest = _sha256(binary)
            with open(binary + ".sha256", "w", encoding="ascii") as handle:
                handle.write(digest + "\n")
            shutil.rmtree(home, ignore_errors=True)  # a half-made one from a killed install
            os.rename(staging, home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary_path(pin, go)


def _go_install(pin: ToolPin, go: GoEnv, staging: str) -> None:
    # GOTOOLCHAIN=local: built by exactly `go` (the store's key), never by a release a go.mod asks for.
    env = dict(os.environ, GOBIN=os.path.join(staging, "bin"), GOFLAGS="-mod=mod", GOWORK="off",
               GOTOOLCHAIN="local", GOROOT=go.settings["GOROOT"])
    command = [go.go, "install", f"{pin.package}@{pin.version}"]
    result = subprocess.run(command, cwd=staging, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    binary = os.path.join(staging, "bin", pin.binary)
    if result.returncode != 0 or not os.path.isfile(binary):
        raise ToolInstallError(install_failure(pin, go, result.stdout + result.stderr))


def install_failure(pin: ToolPin, go: GoEnv, output: str) -> str:
    """What went wrong with `go install`, from its output: what to do depends on whether the tool
    did not compile with this Go, or could not be downloaded."""
    lines = "\n".join("    " + line for line in (output.strip() or "(no output)").splitlines()[-30:])
    command = f"`go install {pin.package}@{pin.version}`"
    kind = failure_kind(output)
    if kind == "compile":
        release = required_go(output) or "1.21.13"
        return (f"tool {pin.name!r}: {command} does not compile with {go.version}: pin the Go release that builds "
                f"it, e.g. `go: {release}` in the tool's pin:\n{lines}")
    what = ": it could not be downloaded" if kind == "download" else ""
    return (f"tool {pin.name!r}: {command} failed ({go.version}, {go.platform}){what}:\n{lines}\n"
            "  Check the package path and version in workspace.yaml (`go list -m -versions MODULE` lists "
            "versions), and that the Go module proxy is reachable (`go env GOPROXY`).")


# `go build` output: a package header (`# example.com/pkg`), a `file.go:LINE:COL:` error, or a Go
# release that is too old for the module (`requires go >= 1.22.0`, an older Go's `invalid go version`).
_COMPILE = re.compile(r"^# \S+$|^\S+\.go:\d+(:\d+)?: |requires go >= |invalid go version|"
                      r"^note: module requires Go ", re.M)
_DOWNLOAD = re.compile(r"\b(404 Not Found|410 Gone|403 Forbidden)\b|unknown revision|no matching versions|"
                       r"dial tcp|no such host|connection refused|i/o timeout|TLS handshake|"
                       r"no such file or directory|not found", re.M)


def failure_kind(output: str) -> str:
    """"compile" (the tool does not build with this Go), "download" (the module could not be
    fetched), or "" (something else)."""
    if _COMPILE.search(output):
        return "compile"
    if _DOWNLOAD.search(output):
        return "download"
    return ""


def required_go(output: str) -> str:
    """The Go release the module asks for (`requires go >= X`, or an older Go's `invalid go version
    'X'`), as a pin writes it; "" if the output does not say."""
    found = re.search(r"(?:requires go >= |invalid go version ')(1\.\d+)(\.\d+|rc\d+)?\b", output)
    if not found:
        return ""
    return found.group(1) + (found.group(2) or ".0")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _lock(home: str):
    locks = os.path.join(store_dir(), ".locks")
    os.makedirs(locks, exist_ok=True)
    name = hashlib.sha256(home.encode()).hexdigest()[:16]
    with open(os.path.join(locks, name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
