"""doit's file_dep checker, backed by the stat cache: doit remembers each input by (mtime, size,
SHA-256) as its MD5 checker does by MD5, but the digest is the one the action key already took
(cache.digests), so no input is read twice."""
from __future__ import annotations

import os

from doit.dependency import FileChangedChecker


class DigestChecker(FileChangedChecker):
    def check_modified(self, file_path, file_stat, state) -> bool:
        if not isinstance(state, (list, tuple)) or len(state) != 3:
            return True  # a state another checker wrote
        timestamp, size, digest = state
        if file_stat.st_mtime == timestamp:
            return False
        if file_stat.st_size != size:
            return True
        return digest != _digest(file_path, file_stat)

    def get_state(self, dep, current_state):
        found = os.stat(dep)
        if current_state and current_state[0] == found.st_mtime:
            return None
        return found.st_mtime, found.st_size, _digest(dep, found)


def _digest(path: str, found: os.stat_result) -> str:
    """Through the stat cache of the workspace doit runs in (its working directory)."""
    from ksbuild.cache.digests import sha256_file, stat_cache_for

    if os.path.isabs(path):
        return sha256_file(path)
    return stat_cache_for(os.getcwd()).digest(path, found)
