"""The tool store: `go install PACKAGE@VERSION`, once per machine, keyed by package, version, Go
version and platform, shared by every workspace. Installs are atomic and serialised per tool, so
two builds installing the same tool at once both end up with one complete copy."""
from __future__ import annotations

import fcntl
import hashlib
import os
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
    env = dict(os.environ, GOBIN=os.path.join(staging, "bin"), GOFLAGS="-mod=mod", GOWORK="off")
    command = [go.go, "install", f"{pin.package}@{pin.version}"]
    result = subprocess.run(command, cwd=staging, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    binary = os.path.join(staging, "bin", pin.binary)
    if result.returncode != 0 or not os.path.isfile(binary):
        output = (result.stdout + result.stderr).strip() or "(no output)"
        raise ToolInstallError(
            f"tool {pin.name!r}: `go install {pin.package}@{pin.version}` failed ({go.version}, {go.platform}):\n"
            + "\n".join("    " + line for line in output.splitlines()[-30:])
            + "\n  Check the package path and version in workspace.yaml (`go list -m -versions MODULE` lists "
              "versions), and that the Go module proxy is reachable (`go env GOPROXY`).")


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
