"""Pinned tools: the Go toolchain's settings, and a machine-wide store of `go install`ed tools."""
import os


def cache_home() -> str:
    """ksbuild's per-user cache directory (tools, Go settings)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ksbuild")
