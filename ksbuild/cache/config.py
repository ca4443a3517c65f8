"""Where the action cache lives: workspace.yaml `cache:`, overridden by the environment (CI)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ksbuild.model import REMOTE_MODES, CacheSettings, parse_size

DEFAULT_MAX_SIZE = "5GiB"
DEFAULT_TIMEOUT = 5
DEFAULT_AUTH_ENV = "KSBUILD_REMOTE_CACHE_AUTH"


@dataclass(frozen=True)
class CacheConfig:
    """Resolved settings (workspace.yaml, then the environment); holds no secret, so it can travel
    with doit's tasks to parallel workers."""

    local_dir: str
    max_size: int
    remote: str = ""
    mode: str = "off"
    timeout: float = DEFAULT_TIMEOUT
    auth_env: str = DEFAULT_AUTH_ENV


def resolve(settings: CacheSettings, root: str, environ=os.environ) -> CacheConfig:
    from ksbuild.toolchain import cache_home

    local = environ.get("KSBUILD_CACHE_DIR") or settings.dir or os.path.join(cache_home(), "actions")
    remote = environ.get("KSBUILD_REMOTE_CACHE", settings.remote)
    mode = environ.get("KSBUILD_REMOTE_CACHE_MODE") or settings.remote_mode or "rw"
    return CacheConfig(
        local_dir=os.path.join(root, os.path.expanduser(local)),
        max_size=parse_size(settings.max_size or DEFAULT_MAX_SIZE) or parse_size(DEFAULT_MAX_SIZE),
        remote=remote,
        mode=mode if remote else "off",
        timeout=settings.remote_timeout or DEFAULT_TIMEOUT,
        auth_env=settings.remote_auth_env or DEFAULT_AUTH_ENV,
    )


def config_problem(config: CacheConfig) -> str:
    """What is wrong with settings that came from the environment, or ''."""
    if config.mode not in REMOTE_MODES:
        return f"KSBUILD_REMOTE_CACHE_MODE={config.mode!r} is not one of {', '.join(REMOTE_MODES)}"
    if config.remote and not config.remote.startswith(("http://", "https://", "file://")):
        return "KSBUILD_REMOTE_CACHE is not an http://, https:// or file:// URL"
    return ""


