"""What every cache store is: blobs by SHA-256 and action entries by key, nothing more.

`DiskStore` serves the local cache and a shared directory (`file://`) alike: every write goes to
a temporary file in the same directory and is renamed into place, so readers never see a partial
file and concurrent writers of the same key or blob leave one complete copy.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Protocol


class StoreError(Exception):
    """A store could not answer (unreachable, timed out, refused); never a miss."""


class Store(Protocol):
    name: str  # "local" or "remote": what last-run.json says a hit came from

    def get_entry(self, key: str) -> bytes | None:
        """The action entry stored under `key`, or None."""

    def put_entry(self, key: str, data: bytes) -> None: ...

    def get_blob(self, digest: str, destination: str) -> bool:
        """Write the blob to `destination`; False when it is not there. The caller verifies it."""

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        """Store the file as the blob `digest`; one already there is kept unless `force`."""

    def has_blob(self, digest: str) -> bool: ...


class DiskStore:
    def __init__(self, directory: str, name: str = "local"):
        self.directory = directory
        self.name = name

    def _path(self, kind: str, name: str) -> str:
        return os.path.join(self.directory, kind, name[:2], name)

    def get_entry(self, key: str) -> bytes | None:
        path = self._path("ac", key)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"cannot read {path}: {err.strerror}") from None
        _touch(path)
        return data

    def put_entry(self, key: str, data: bytes) -> None:
        self._write(self._path("ac", key), lambda handle: handle.write(data))

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self._path("cas", digest))

    def get_blob(self, digest: str, destination: str) -> bool:
        path = self._path("cas", digest)
        try:
            shutil.copyfile(path, destination)
        except FileNotFoundError:
            return False
        except OSError as err:
            raise StoreError(f"cannot read {path}: {err.strerror}") from None
        _touch(path)
        return True

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        path = self._path("cas", digest)
        if not force and os.path.isfile(path):
            _touch(path)
            return

        def copy(handle):
            with open(source, "rb") as reader:
                shutil.copyfileobj(reader, handle, 1 << 20)

        self._write(path, copy)

    def remove_blob(self, digest: str) -> None:
        try:
            os.unlink(self._path("cas", digest))
        except FileNotFoundError:
            pass

    def _write(self, path: str, fill) -> None:
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        except OSError as err:
            raise StoreError(f"cannot write in {directory}: {err.strerror}") from None
        try:
            with os.fdopen(handle, "wb") as writer:
                fill(writer)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except OSError as err:
            raise StoreError(f"cannot write {path}: {err.strerror}") from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


def _touch(path: str) -> None:
    """Mark as recently used, for `doit cache-gc` (which removes the least recently used first)."""
    try:
        now = time.time()
        os.utime(path, (now, now))
    except OSError:
        pass
