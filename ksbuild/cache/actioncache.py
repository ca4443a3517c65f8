"""The action cache the executor asks: the local store first, then the remote one.

Restoring: entry, then every file into a staging directory, each verified against its size and
SHA-256 (a small file's content comes inside the entry, checked as it is decoded; a blob while it
is copied); a remote hit also fills the local store. Saving: blobs first, the entry last, so a
reader that finds an entry finds its blobs.

What a store holds is hostile input. A malformed, oversized, unsigned (when signatures are
required) or badly signed entry, or a blob that is not a regular file of the declared size and
digest, is a miss with one warning: the action runs and, where this run may write, its entry (and a
corrupt blob) is replaced, so a bad entry never fails a build, now or later. A remote that fails
(unreachable, slow, 5xx, past its time budget) costs one warning, and is not asked again during the
run. `ro` mode never writes to the remote: not the entry, not a fill, not a forced rewrite (the
remote store itself refuses, as a second line).

Signatures: an entry this process writes is signed when the signing key's variable is set (a
local fill only when it was verified). With `require_signature`, every entry restored, from the
remote and from the local store alike, must carry a valid signature: the local directory may
come from a CI cache that other jobs wrote.
"""
from __future__ import annotations

import os
import shutil
import sys

from ksbuild.cache import entry as entries
from ksbuild.cache import signing
from ksbuild.cache.config import CacheConfig
from ksbuild.cache.store import DiskStore, StoreError, Untrusted
from ksbuild.model import ActionSpec


class ActionCache:
    def __init__(self, config: CacheConfig):
        self.config = config
        self.local = DiskStore(config.local_dir, "local")
        self.remote = _remote_store(config) if config.mode != "off" else None
        self.remote_writable = config.mode == "rw"
        self.warned: set[str] = set()
        self.corrupt: set[str] = set()  # blobs found corrupt in this run: rewritten, not trusted

    def restore(self, key: str, action: ActionSpec, staging: str) -> str | None:
        """Lay out the action's outputs for `key` under `staging` (by their execution-root paths);
        returns where they came from ("local" or "remote"), or None on a miss (staging left empty)."""
        if self.config.require_signature and self._signing_key() is None:
            self._warn(None, f"require_signature is on but {self.config.signing_key_env} is not set: "
                             "no entry is used")
            return None
        if self._restore_from(self.local, key, action, staging) is not None:
            return "local"
        if self.remote is not None:
            files = self._restore_from(self.remote, key, action, staging)
            if files is not None:
                self._fill_local(key, action, staging, files)
                return "remote"
        return None

    def may_hold(self, key: str) -> bool:
        """False only when no store can hold `key`: the restore (and its staging directory) is skipped."""
        return self.remote is not None or self.local.has_entry(key)

    def save(self, key: str, action: ActionSpec, exec_root: str) -> list[entries.OutputFile]:
        """Store what a successful run produced: blobs first, the entry last. Returns the files, with
        their digests (none when the cache does not take them)."""
        try:
            files = entries.describe_outputs(exec_root, action)
            data = entries.encode(action, files, key, self._signing_key())
        except entries.Uncacheable as err:
            self._warn(None, f"{action.description} is not cached: {err}")
            return []
        stores = [self.local] + ([self.remote] if self.remote is not None and self.remote_writable else [])
        for store in stores:
            try:
                for file in entries.blobs(files):
                    store.put_blob(file.digest, os.path.join(exec_root, file.exec_path),
                                   force=file.digest in self.corrupt)
                store.put_entry(key, data)
            except StoreError as err:
                self._give_up(store, err)
        return files

    # -----------------------------------------------------------------------------------------
    def _restore_from(self, store, key: str, action: ActionSpec, staging: str) -> list[entries.OutputFile] | None:
        """The restored files, or None (a miss, warned about when the store held something bad)."""
        try:
            data = store.get_entry(key)
            if data is None:
                return None
            required = self._signing_key() if self.config.require_signature else None
            files = entries.decode(data, action, key, required)
            for file in files:
                destination = os.path.join(staging, file.exec_path)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                if file.content is not None:  # verified when the entry was decoded
                    _write_new(destination, file.content, file.mode)
                    continue
                try:
                    found = store.get_blob(file.digest, destination, file.size)
                except Untrusted as err:
                    replaced = store is self.local or self.remote_writable
                    self._warn(store, f"blob {file.digest[:12]} ({file.workspace_path}) is corrupt: {err}; running "
                                      "the action" + (", and its entry will be replaced" if replaced else ""))
                    self.corrupt.add(file.digest)
                    if store is self.local:
                        self.local.remove_blob(file.digest)
                    break
                if not found:
                    self._warn(store, f"entry {key[:12]} names blob {file.digest[:12]} ({file.workspace_path}), "
                                      "which is missing; running the action")
                    break
                os.chmod(destination, file.mode)
            else:
                return files
        except entries.InvalidEntry as err:
            self._warn(store, f"entry {key[:12]} {err}; running the action")
        except Untrusted as err:
            self._warn(store, f"entry {key[:12]} is refused: {err}; running the action")
        except StoreError as err:
            self._give_up(store, err)
        except (OSError, ValueError) as err:  # a name this file system cannot hold, a full disk...
            reason = getattr(err, "strerror", None) or err.__class__.__name__
            self._warn(store, f"entry {key[:12]} cannot be restored ({reason}); running the action")
        _empty(staging)
        return None

    def _fill_local(self, key: str, action: ActionSpec, staging: str, files: list[entries.OutputFile]) -> None:
        """Copy a remote hit into the local store; its entry is signed only when it was verified."""
        try:
            for file in entries.blobs(files):
                self.local.put_blob(file.digest, os.path.join(staging, file.exec_path),
                                    force=file.digest in self.corrupt)
            verified = self._signing_key() if self.config.require_signature else None
            self.local.put_entry(key, entries.encode(action, files, key, verified))
        except (StoreError, entries.Uncacheable) as err:
            self._warn(self.local, str(err))

    def _signing_key(self) -> bytes | None:
        return signing.signing_key(self.config.signing_key_env)

    def _give_up(self, store, err: StoreError) -> None:
        if store is self.remote:
            self.remote = None  # one warning, then the run goes on without it
            self._warn(store, f"{err}; going on without the remote cache for this run")
        else:
            self._warn(store, str(err))

    def _warn(self, store, message: str) -> None:
        text = f"ksbuild: warning: {store.name if store is not None else 'action'} cache: {message}"
        if text not in self.warned:
            self.warned.add(text)
            sys.stderr.write(text + "\n")


def _write_new(path: str, content: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as writer:
        writer.write(content)
        os.fchmod(fd, mode)  # not the umask's


def _empty(staging: str) -> None:
    """Leave nothing of a failed restore for the next attempt (or the commit) to pick up."""
    for name in os.listdir(staging):
        path = os.path.join(staging, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def _remote_store(config: CacheConfig):
    read_only = config.mode != "rw"
    if config.remote.startswith("file://"):
        from urllib.parse import urlsplit

        return DiskStore(urlsplit(config.remote).path, "remote", read_only=read_only)
    from ksbuild.cache.http import HttpStore

    return HttpStore(config.remote, config.timeout, config.auth_env, read_only=read_only,
                     budget=config.remote_budget)


_CACHES: dict[CacheConfig, ActionCache] = {}


def cache_for(config: CacheConfig) -> ActionCache:
    """One cache per process and configuration, so a dead remote is given up once per run."""
    if config not in _CACHES:
        _CACHES[config] = ActionCache(config)
    return _CACHES[config]
