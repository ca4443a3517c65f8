"""SHA-256 of files, remembered by (path, size, mtime, inode) so an unchanged file is hashed once;
and, beside them, each target's action keys as its last run recorded them (cache.keybook).

The stat cache is a small SQLite database per workspace: safe when `doit -n N` processes read and
write it at once. What a process learns is written in one transaction per target (`flush`, at the
end of each; and when the process ends), not one per file. Like git's index, it does not trust a
timestamp younger than two seconds, since a file rewritten within the same clock tick could keep
its size and mtime.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time

RACY_SECONDS = 2.0
STAT_CACHE = os.path.join(".ksbuild", "stat-cache.sqlite")


def sha256_file(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        hashed = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            hashed.update(chunk)
        return hashed.hexdigest()
    finally:
        os.close(fd)


CHUNK = 1 << 18


class StatCache:
    def __init__(self, root: str):
        self.root = root
        self.path = os.path.join(root, STAT_CACHE)
        self._db: sqlite3.Connection | None = None
        self._remembering = True  # until the disk is full: digests are then computed, not remembered
        self._new_files: dict[str, tuple[int, int, int, str]] = {}  # learnt, not yet written: flush()
        self._new_keys: dict[str, str] = {}

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect(self.path)
        return self._db

    def _execute(self, sql: str, values, many: bool = False):
        """One statement; a database that is not one (garbage, a torn file) is set aside once and
        started anew (files.set_aside), as a cache can be."""
        try:
            db = self._open()
            return db.executemany(sql, values) if many else db.execute(sql, values)
        except sqlite3.DatabaseError as err:
            if err.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise
            from ksbuild.files import set_aside

            if self._db is not None:
                self._db.close()
                self._db = None
            set_aside(self.path, str(err), companions=("-wal", "-shm"))
            db = self._open()
            return db.executemany(sql, values) if many else db.execute(sql, values)

    def digest(self, relative: str, stat: os.stat_result | None = None) -> str:
        """The SHA-256 of a workspace file (raises OSError when it is missing); `stat`, when the
        caller has just taken it."""
        path = os.path.join(self.root, relative)
        stat = stat or os.stat(path)
        row = self._new_files.get(relative)
        if row is None:
            found = self._unless_full("SELECT size, mtime, inode, digest FROM files WHERE path = ?", (relative,))
            row = found.fetchone() if found is not None else None
        if row and tuple(row[:3]) == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return row[3]
        digest = sha256_file(path)
        if self._remembering and time.time() - stat.st_mtime > RACY_SECONDS:
            self._new_files[relative] = (stat.st_size, stat.st_mtime_ns, stat.st_ino, digest)
        return digest

    def _unless_full(self, sql: str, values, many: bool = False):
        """The statement's cursor; None once the disk is full: one warning names it, and the build goes
        on hashing without the cache."""
        if not self._remembering:
            return None
        try:
            return self._execute(sql, values, many)
        except (sqlite3.OperationalError, OSError) as err:
            from ksbuild.files import describe_filesystem, disk_full

            code = getattr(err, "sqlite_errorcode", 0) & 0xFF
            if code != sqlite3.SQLITE_FULL and not disk_full(err):
                raise
            self._remembering = False
            sys.stderr.write(f"ksbuild: warning: no space left on {describe_filesystem(self.path)}: the stat "
                             f"cache ({STAT_CACHE}) stops remembering digests for this run\n")
            return None

    def key_record(self, task: str) -> dict:
        """What KeyBook recorded for `task` at its last run here ({} when nothing, or nothing sound)."""
        row = (self._new_keys[task],) if task in self._new_keys else None
        if row is None:
            found = self._unless_full("SELECT record FROM keys WHERE task = ?", (task,))
            row = found.fetchone() if found is not None else None
        try:
            record = json.loads(row[0]) if row else {}
        except (TypeError, ValueError):
            return {}
        return record if isinstance(record, dict) and isinstance(record.get("actions"), list) else {}

    def set_key_record(self, task: str, record: str) -> None:
        """A row, not a file per target: creating a file costs this machine's disk as much as a short action."""
        if self._remembering:
            self._new_keys[task] = record

    def flush(self) -> None:
        """Write what this process learnt since the last flush, in one transaction."""
        if not (self._new_files or self._new_keys) or not self._remembering:
            return
        files = [(path, *row) for path, row in self._new_files.items()]
        keys = list(self._new_keys.items())
        self._new_files, self._new_keys = {}, {}
        self._unless_full("BEGIN IMMEDIATE", ())
        try:
            if files:
                self._unless_full("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", files, many=True)
            if keys:
                self._unless_full("INSERT OR REPLACE INTO keys VALUES (?, ?)", keys, many=True)
        finally:
            if self._db is not None and self._db.in_transaction:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error:  # a full disk at the last moment: what was learnt is only lost
                    self._db.execute("ROLLBACK")

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        _write_ahead_log(db)
        db.execute("PRAGMA synchronous=NORMAL")  # a cache: no fsync per remembered digest
        db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, "
                   "inode INTEGER, digest TEXT)")
        db.execute("CREATE TABLE IF NOT EXISTS keys (task TEXT PRIMARY KEY, record TEXT)")  # cache.keybook
    except BaseException:
        db.close()
        raise
    return db


_OPEN: dict[tuple[str, int], StatCache] = {}


def stat_cache_for(root: str) -> StatCache:
    """One stat cache per workspace and process, kept open across the targets a process runs. A
    process forked by doit's parallel runner opens its own: an SQLite connection never crosses a
    fork (the parent's is kept, untouched)."""
    key = (root, os.getpid())
    if key not in _OPEN:
        _OPEN[key] = StatCache(root)
    return _OPEN[key]


def close_all() -> None:
    """Close this process's stat caches (SQLite folds its write-ahead log back into the database)."""
    for (_, pid), cache in _OPEN.items():
        if pid == os.getpid():
            cache.close()


def _write_ahead_log(db: sqlite3.Connection) -> None:
    """WAL mode, set once per database file. Switching takes an exclusive lock that SQLite's busy
    timeout does not wait for: parallel workers opening a new cache at once retry instead."""
    import time

    for attempt in range(100):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == 99:
                raise
            time.sleep(0.05)
