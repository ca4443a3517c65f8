"""The action cache the executor asks: the local store first, then the remote one.

Restoring: entry, then every blob into a staging directory, each verified against its SHA-256; a
remote hit also fills the local store. Saving: blobs first, the entry last, so a reader that finds
an entry finds its blobs. A remote that fails (unreachable, slow, 5xx) costs one warning, and is
not asked again during the run; read-only mode never writes to it. A corrupt entry or blob is a
miss with a warning, and the run that follows replaces the entry.
"""
from __future__ import annotations

import os
import sys

from ksbuild.cache import entry as entries
from ksbuild.cache.config import CacheConfig
from ksbuild.cache.digests import sha256_file
from ksbuild.cache.store import DiskStore, StoreError
from ksbuild.model import ActionSpec


class ActionCache:
    def __init__(self, config: CacheConfig):
        self.config = config
        self.local = DiskStore(config.local_dir, "local")
        self.remote = _remote_store(config) if config.mode != "off" else None
        self.warned: set[str] = set()
        self.corrupt: set[str] = set()  # blobs found corrupt in this run: rewritten, not trusted

    def restore(self, key: str, action: ActionSpec, staging: str) -> str | None:
        """Lay out the action's outputs for `key` under `staging` (by their execution-root paths);
        returns where they came from ("local" or "remote"), or None on a miss."""
        if self._restore_from(self.local, key, action, staging):
            return "local"
        if self.remote is not None and self._restore_from(self.remote, key, action, staging):
            self._fill_local(key, action, staging)
            return "remote"
        return None

    def save(self, key: str, action: ActionSpec, exec_root: str) -> None:
        """Store what a successful run produced: blobs first, the entry last."""
        files = entries.describe_outputs(exec_root, action)
        data = entries.encode(action, files)
        stores = [self.local] + ([self.remote] if self.remote is not None and self.config.mode == "rw" else [])
        for store in stores:
            try:
                for file in files:
                    store.put_blob(file.digest, os.path.join(exec_root, file.exec_path),
                                   force=file.digest in self.corrupt)
                store.put_entry(key, data)
            except StoreError as err:
                self._give_up(store, err)

    # -----------------------------------------------------------------------------------------
    def _restore_from(self, store, key: str, action: ActionSpec, staging: str) -> bool:
        try:
            data = store.get_entry(key)
            if data is None:
                return False
            files = entries.decode(data, action)
            for file in files:
                destination = os.path.join(staging, file.exec_path)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                if not store.get_blob(file.digest, destination):
                    self._warn(store, f"entry {key[:12]} names blob {file.digest[:12]} ({file.workspace_path}), "
                                      "which is missing; running the action")
                    return False
                if sha256_file(destination) != file.digest:
                    self._warn(store, f"blob {file.digest[:12]} ({file.workspace_path}) is corrupt; running the "
                                      "action, and its entry will be replaced")
                    self.corrupt.add(file.digest)
                    if store is self.local:
                        self.local.remove_blob(file.digest)
                    return False
                os.chmod(destination, file.mode)
            return True
        except entries.InvalidEntry as err:
            self._warn(store, f"entry {key[:12]} {err}; running the action")
            return False
        except StoreError as err:
            self._give_up(store, err)
            return False

    def _fill_local(self, key: str, action: ActionSpec, staging: str) -> None:
        try:
            files = entries.describe_outputs(staging, action)
            for file in files:
                self.local.put_blob(file.digest, os.path.join(staging, file.exec_path))
            self.local.put_entry(key, entries.encode(action, files))
        except StoreError as err:
            self._warn(self.local, str(err))

    def _give_up(self, store, err: StoreError) -> None:
        if store is self.remote:
            self.remote = None  # one warning, then the run goes on without it
            self._warn(store, f"{err}; going on without the remote cache for this run")
        else:
            self._warn(store, str(err))

    def _warn(self, store, message: str) -> None:
        text = f"ksbuild: warning: {store.name} cache: {message}"
        if text not in self.warned:
            self.warned.add(text)
            sys.stderr.write(text + "\n")


def _remote_store(config: CacheConfig):
    if config.remote.startswith("file://"):
        from urllib.parse import urlsplit

        return DiskStore(urlsplit(config.remote).path, "remote")
    from ksbuild.cache.http import HttpStore

    return HttpStore(config.remote, config.timeout, config.auth_env)


_CACHES: dict[CacheConfig, ActionCache] = {}


def cache_for(config: CacheConfig) -> ActionCache:
    """One cache per process and configuration, so a dead remote is given up once per run."""
    if config not in _CACHES:
        _CACHES[config] = ActionCache(config)
    return _CACHES[config]
