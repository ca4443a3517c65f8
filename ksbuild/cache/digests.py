"""SHA-256 of files, remembered by (path, size, mtime, inode) so an unchanged file is hashed once.

The stat cache is a small SQLite database per workspace: safe when `doit -n N` processes read and
write it at once. Like git's index, it does not trust a timestamp younger than two seconds, since
a file rewritten within the same clock tick could keep its size and mtime.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import time

RACY_SECONDS = 2.0
STAT_CACHE = os.path.join(".ksbuild", "stat-cache.sqlite")


def sha256_file(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class StatCache:
    def __init__(self, root: str):
        self.root = root
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(os.path.join(self.root, STAT_CACHE), timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: no fsync per remembered digest
            db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, "
                       "inode INTEGER, digest TEXT)")
            self._db = db
        return self._db

    def digest(self, relative: str) -> str:
        """The SHA-256 of a workspace file (raises OSError when it is missing)."""
        path = os.path.join(self.root, relative)
        stat = os.stat(path)
        db = self._open()
        row = db.execute("SELECT size, mtime, inode, digest FROM files WHERE path = ?", (relative,)).fetchone()
        if row and row[:3] == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return row[3]
        digest = sha256_file(path)
        if time.time() - stat.st_mtime > RACY_SECONDS:
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                       (relative, stat.st_size, stat.st_mtime_ns, stat.st_ino, digest))
        return digest

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_OPEN: dict[str, StatCache] = {}


def stat_cache_for(root: str) -> StatCache:
    """One stat cache per workspace and process, kept open across the targets a process runs."""
    if root not in _OPEN:
        _OPEN[root] = StatCache(root)
    return _OPEN[root]
