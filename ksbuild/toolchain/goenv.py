"""Go toolchains: the machine's, or a pinned release, and the settings that reach the module proxy.

A pinned release (`go_env("1.21.13")`) is the one Go itself fetches through the module proxy when
`GOTOOLCHAIN=go1.21.13` is set (the module golang.org/toolchain, unpacked in the module cache);
ksbuild then runs that release's own `go` directly, with `GOTOOLCHAIN=local`, so nothing (a go.mod
`toolchain` line, say) can make a build switch to, or download, another one.

A sandbox has a private HOME, so Go would not find its own configuration there; the settings that
matter (proxy, checksum database, caches) are read once with `go env` and passed explicitly.
The answer is cached per Go binary and release, so a build does not pay for `go env` every time.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ksbuild.model import ToolPin
from ksbuild.toolchain import cache_home

# Settings a sandboxed Go command needs from the machine; none of them changes what it produces.
PASSED_SETTINGS = ("GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY",
                   "GOINSECURE")
_QUERIED = ("GOVERSION", "GOOS", "GOARCH", "GOROOT") + PASSED_SETTINGS
# Go releases as GOTOOLCHAIN names them, without the `go`: 1.21.13, 1.22.0, 1.23rc1.
RELEASE = re.compile(r"1\.\d+(\.\d+|rc\d+)")


class GoMissing(Exception):
    """No usable Go: none on PATH, or `go env` failed."""


class ToolchainUnavailable(GoMissing):
    """A pinned Go release could not be fetched."""


class BadGoVersion(ValueError):
    pass


@dataclass(frozen=True)
class GoEnv:
    go: str  # absolute path of the toolchain's own go command (GOROOT/bin/go)
    settings: dict[str, str]

    @property
    def version(self) -> str:
        return self.settings["GOVERSION"]

    @property
    def platform(self) -> str:
        return f"{self.settings['GOOS']}-{self.settings['GOARCH']}"

    @property
    def identity(self) -> list[str]:
        """What of the toolchain can change what Go tools produce: its version and platform."""
        return [self.version, self.platform]

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.settings["GOROOT"], "bin")

    def sandbox_env(self) -> dict[str, str]:
        env = {k: self.settings[k] for k in PASSED_SETTINGS if self.settings.get(k)}
        # `local`: this toolchain and no other; a go.mod that needs a newer Go fails, it never downloads.
        env.update(GOFLAGS="-mod=mod", GOENV="off", GOWORK="off", CGO_ENABLED="0", GOTOOLCHAIN="local",
                   GOROOT=self.settings["GOROOT"])
        return env


def check_go_version(version: str) -> None:
    """Raise BadGoVersion unless `version` names a Go release the way a pin writes it (1.21.13)."""
    if RELEASE.fullmatch(version):
        return
    if RELEASE.fullmatch(version.removeprefix("go")):
        hint = f"write it without `go`: {version.removeprefix('go')}"
    elif re.fullmatch(r"1\.\d+", version):
        patch = ".0" if int(version[2:]) >= 21 else ".1"  # before 1.21, the first release had no `.0`
        hint = f"{version} is a language version; name a release, e.g. {version}{patch}"
    else:
        hint = "write a release as Go names it, without `go`: e.g. 1.21.13, 1.22.0 or 1.23rc1"
    raise BadGoVersion(f"Go version {version!r} is not a Go release: {hint}")


def toolchain_for(pin: ToolPin, default_version: str = "") -> GoEnv:
    """The toolchain that builds `pin`: its own `go` release, else `default_version` (the workspace's)."""
    return go_env(pin.go or default_version)


def find_go() -> str | None:
    found = shutil.which("go")
    return os.path.realpath(found) if found else None


def go_env(version: str = "") -> GoEnv:
    """The Go toolchain on PATH, or with `version` that Go release (fetched on first use), and its
    settings. Raises GoMissing when there is no Go, ToolchainUnavailable when the release cannot be
    fetched, BadGoVersion for a malformed version."""
    if version:
        check_go_version(version)
    go = find_go()
    if go is None:
        raise GoMissing("no `go` command on PATH; install Go and put `go` on PATH")
    key = _fingerprint(go) + "\0" + version
    cache = os.path.join(cache_home(), "go-env", hashlib.sha256(key.encode()).hexdigest()[:16] + ".json")
    try:
        with open(cache, encoding="utf-8") as handle:
            settings = json.load(handle)
        # A pinned release lives in the module cache, which can be cleaned: then it is fetched again.
        if not version or os.path.isfile(_own_go(settings)):
            return _made(go, settings)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    settings = _query(go, version)
    if version and not os.path.isfile(_own_go(settings)):
        raise ToolchainUnavailable(f"Go {version} was fetched, but {settings['GOROOT']} holds no bin/go")
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    temporary = f"{cache}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(settings, handle)
    os.replace(temporary, cache)
    return _made(go, settings)


def _own_go(settings: dict[str, str]) -> str:
    return os.path.join(settings["GOROOT"], "bin", "go")


def _made(machine_go: str, settings: dict[str, str]) -> GoEnv:
    """Run the toolchain's own go command, or the one on PATH if its GOROOT has none."""
    own = _own_go(settings)
    return GoEnv(own if os.path.isfile(own) else machine_go, settings)


def _query(go: str, version: str) -> dict[str, str]:
    """`go env` of the machine's Go, or of release `version` (GOTOOLCHAIN makes Go fetch and run it).
    It runs in an empty directory: a go.mod around the caller must not choose the toolchain."""
    env = dict(os.environ, GOTOOLCHAIN=f"go{version}") if version else None
    with tempfile.TemporaryDirectory(prefix="ksbuild-goenv-") as empty:
        try:
            result = subprocess.run([go, "env", "-json", *_QUERIED], capture_output=True, text=True, cwd=empty,
                                    env=env, stdin=subprocess.DEVNULL)
        except OSError as err:
            raise GoMissing(f"`{go} env` failed: {err}") from None
    if result.returncode != 0:
        lines = "\n".join("    " + line for line in result.stderr.strip().splitlines()[-8:]) or "    (no output)"
        if version:
            raise ToolchainUnavailable(
                f"Go {version} could not be fetched (`GOTOOLCHAIN=go{version} go env`, through the Go module "
                f"proxy):\n{lines}\n  Check that {version} is a Go release (`go list -m -versions "
                f"golang.org/toolchain` lists them) and that the module proxy is reachable (`go env GOPROXY`).")
        raise GoMissing(f"`{go} env` failed:\n{lines}")
    settings = {k: v for k, v in json.loads(result.stdout).items() if isinstance(v, str)}
    if version and settings.get("GOVERSION") != f"go{version}":
        raise ToolchainUnavailable(f"Go {version} was asked for, but `go env` answered from "
                                   f"{settings.get('GOVERSION')}: the machine's Go must be 1.21 or newer to "
                                   "fetch other releases")
    return settings


def _fingerprint(go: str) -> str:
    """What `go env` answers from: the binary, GO* variables and Go's own configuration file."""
    stat = os.stat(go)
    parts = [go, str(stat.st_mtime_ns), str(stat.st_size)]
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("GO"))
    config = os.environ.get("GOENV") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "go", "env")
    try:
        config_stat = os.stat(config)
        parts += [config, str(config_stat.st_mtime_ns), str(config_stat.st_size)]
    except OSError:
        parts.append("no-config")
    return "\0".join(parts)
