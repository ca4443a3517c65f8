"""Where the action cache lives: workspace.yaml `cache:`, overridden by the environment (CI); and
the limits every store is held to, whatever it holds."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ksbuild.model import REMOTE_MODES, CacheSettings, parse_size

DEFAULT_MAX_SIZE = "5GiB"
DEFAULT_TIMEOUT = 5
DEFAULT_AUTH_ENV = "KSBUILD_REMOTE_CACHE_AUTH"
DEFAULT_SIGNING_KEY_ENV = "KSBUILD_CACHE_SIGNING_KEY"
MIN_SIGNING_KEY_LENGTH = 16  # characters: a long random secret, not a password

# What a store's answer may be, at most. A reply beyond these is a miss with a warning, stopped as
# soon as it crosses the limit: never read whole, never held in memory.
MAX_BLOB_SIZE = 4 * 2**30  # bytes of one output file
MAX_ENTRY_SIZE = 2**20  # bytes of one action entry (about 9,000 files)
MAX_ENTRY_FILES = 10_000  # files named by one action entry
# Time: a remote gets `remote_timeout` seconds per network operation, a blob transfer at most
# `remote_timeout` plus its size at MIN_TRANSFER_RATE, and the run (each process) at most
# REMOTE_BUDGET_TIMEOUTS x `remote_timeout` of remote time in all, or KSBUILD_REMOTE_CACHE_BUDGET
# seconds; then the remote is given up for the run, with one warning.
MIN_TRANSFER_RATE = 2**20  # bytes per second
REMOTE_BUDGET_TIMEOUTS = 10

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class CacheConfig:
    """Resolved settings (workspace.yaml, then the environment); holds no secret (only the names
    of the variables that hold them), so it can travel with doit's tasks to parallel workers."""

    local_dir: str
    max_size: int
    remote: str = ""
    mode: str = "off"
    timeout: float = DEFAULT_TIMEOUT
    auth_env: str = DEFAULT_AUTH_ENV
    signing_key_env: str = DEFAULT_SIGNING_KEY_ENV
    require_signature: bool = False
    budget: float = 0  # seconds of remote time per run; 0: REMOTE_BUDGET_TIMEOUTS x timeout

    @property
    def remote_budget(self) -> float:
        return self.budget or REMOTE_BUDGET_TIMEOUTS * self.timeout


def resolve(settings: CacheSettings, root: str, environ=os.environ) -> CacheConfig:
    from ksbuild.toolchain import cache_home

    local = environ.get("KSBUILD_CACHE_DIR") or settings.dir or os.path.join(cache_home(), "actions")
    remote = environ.get("KSBUILD_REMOTE_CACHE", settings.remote)
    mode = environ.get("KSBUILD_REMOTE_CACHE_MODE") or settings.remote_mode or "rw"
    required = environ.get("KSBUILD_CACHE_REQUIRE_SIGNATURE", "").strip().lower()
    try:
        budget = float(environ.get("KSBUILD_REMOTE_CACHE_BUDGET") or 0)
    except ValueError:
        budget = -1  # config_problem says so
    return CacheConfig(
        local_dir=os.path.join(root, os.path.expanduser(local)),
        max_size=parse_size(settings.max_size or DEFAULT_MAX_SIZE) or parse_size(DEFAULT_MAX_SIZE),
        remote=remote,
        mode=mode if remote else "off",
        timeout=settings.remote_timeout or DEFAULT_TIMEOUT,
        auth_env=settings.remote_auth_env or DEFAULT_AUTH_ENV,
        signing_key_env=settings.signing_key_env or DEFAULT_SIGNING_KEY_ENV,
        # an unknown value requires (config_problem refuses it anyway): never fail open
        require_signature=settings.require_signature if not required else required not in _FALSE,
        budget=budget,
    )


def config_problem(config: CacheConfig, environ=os.environ) -> str:
    """What is wrong with settings that came from the environment, or ''. Never shows a secret."""
    if config.mode not in REMOTE_MODES:
        return f"KSBUILD_REMOTE_CACHE_MODE={config.mode!r} is not one of {', '.join(REMOTE_MODES)}"
    if config.remote and not config.remote.startswith(("http://", "https://", "file://")):
        return "KSBUILD_REMOTE_CACHE is not an http://, https:// or file:// URL"
    required = environ.get("KSBUILD_CACHE_REQUIRE_SIGNATURE", "").strip().lower()
    if required and required not in _TRUE + _FALSE:
        return f"KSBUILD_CACHE_REQUIRE_SIGNATURE={required!r} is not 1 or 0"
    if config.budget < 0:
        return "KSBUILD_REMOTE_CACHE_BUDGET is not a number of seconds"
    if not _ENV_NAME.match(config.signing_key_env):
        return f"cache signing_key_env {config.signing_key_env!r} is not an environment variable name"
    key = environ.get(config.signing_key_env, "")
    if config.require_signature and not key:
        return (f"the action cache requires signed entries (require_signature), but {config.signing_key_env} is "
                "not set: give it the cache's signing key, or turn require_signature off "
                "(KSBUILD_CACHE_REQUIRE_SIGNATURE=0)")
    if key and len(key) < MIN_SIGNING_KEY_LENGTH:
        return (f"{config.signing_key_env} holds a signing key shorter than {MIN_SIGNING_KEY_LENGTH} characters: "
                "use a long random secret")
    return ""
