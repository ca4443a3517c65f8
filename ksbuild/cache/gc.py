"""`doit cache-gc`: trim the local cache to its size limit, least recently used first.

Entries go before blobs of the same age, and an entry whose blobs were removed is a miss that
restores nothing (its blobs are checked), so trimming never yields a wrong file."""
from __future__ import annotations

import os


def collect(directory: str, limit: int) -> tuple[int, int, int]:
    """Remove files until the store holds at most `limit` bytes; returns (files removed, bytes
    freed, bytes kept)."""
    files = []
    for kind in ("ac", "cas"):
        for current, _, names in os.walk(os.path.join(directory, kind)):
            for name in names:
                path = os.path.join(current, name)
                try:
                    stat = os.lstat(path)  # a link counts as itself: never its target's size
                except FileNotFoundError:
                    continue
                files.append((stat.st_mtime, kind != "ac", stat.st_size, path))
    total = sum(size for _, _, size, _ in files)
    removed = freed = 0
    for _, _, size, path in sorted(files):
        if total - freed <= limit:
            break
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed += 1
        freed += size
    return removed, freed, total - freed
