"""The machine's Go toolchain and the settings that reach its module proxy.

A sandbox has a private HOME, so Go would not find its own configuration there; the settings that
matter (proxy, checksum database, caches) are read once with `go env` and passed explicitly.
The answer is cached per Go binary, so a build does not pay for `go env` every time.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from ksbuild.toolchain import cache_home

# Settings a sandboxed Go command needs from the machine; none of them changes what it produces.
PASSED_SETTINGS = ("GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY",
                   "GOINSECURE", "GOTOOLCHAIN")
_QUERIED = ("GOVERSION", "GOOS", "GOARCH", "GOROOT") + PASSED_SETTINGS


class GoMissing(Exception):
    pass


@dataclass(frozen=True)
class GoEnv:
    go: str  # absolute path of the go command
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
        env.update(GOFLAGS="-mod=mod", GOENV="off", GOWORK="off", CGO_ENABLED="0")
        return env


def find_go() -> str | None:
    found = shutil.which("go")
    return os.path.realpath(found) if found else None


def go_env() -> GoEnv:
    """The Go toolchain on PATH and its settings; raises GoMissing when there is none."""
    go = find_go()
    if go is None:
        raise GoMissing("no `go` command on PATH")
    cache = os.path.join(cache_home(), "go-env", hashlib.sha256(_fingerprint(go).encode()).hexdigest()[:16] + ".json")
    try:
        with open(cache, encoding="utf-8") as handle:
            return GoEnv(go, json.load(handle))
    except (OSError, ValueError):
        pass
    try:
        out = subprocess.run([go, "env", "-json", *_QUERIED], capture_output=True, text=True, check=True,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise GoMissing(f"`{go} env` failed: {getattr(err, 'stderr', '') or err}") from None
    settings = {k: v for k, v in json.loads(out).items() if isinstance(v, str)}
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    temporary = f"{cache}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(settings, handle)
    os.replace(temporary, cache)
    return GoEnv(go, settings)


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
