"""The action keys of one target's run, and the record of the last run here (a row of the stat
cache's database, cache.digests), so that a cache miss can be explained: which part of the key
changed."""
from __future__ import annotations

import json

from ksbuild.model import ActionSpec


class KeyBook:
    def __init__(self, root: str, task: str, cache_config):
        from ksbuild.cache.actioncache import cache_for
        from ksbuild.cache.digests import stat_cache_for

        self.root, self.task = root, task
        self.cache = cache_for(cache_config)
        self.stat_cache = stat_cache_for(root)
        self.before = self.stat_cache.key_record(task).get("actions", [])
        self.keys = []
        self.miss = ""  # why the first action that ran was not in the cache

    def key(self, index: int, action: ActionSpec, rule: str, tool_digests: dict[str, str], pending) -> str:
        """The action's key; `pending` holds the target's earlier actions' outputs (exec.pending)."""
        from ksbuild.cache.key import action_key

        key = action_key(action, rule, tool_digests, _go_identity(action),
                         lambda path: pending.digest(path, self.stat_cache), pending.source_dir)
        self.keys.append(key)
        return key.key

    def missed(self, index: int) -> None:
        from ksbuild.cache.key import explain_miss

        if not self.miss:
            self.miss = explain_miss(self.before[index] if index < len(self.before) else None, self.keys[index])

    def close(self) -> None:
        if self.keys:
            record = {"task": self.task, "actions": [key.record() for key in self.keys]}
            self.stat_cache.set_key_record(self.task, json.dumps(record))
        self.stat_cache.flush()  # one transaction per target: a worker of doit -n may end without a goodbye


def _go_identity(action: ActionSpec) -> list[str]:
    if not (action.tools or action.toolchain == "go"):
        return []
    from ksbuild.toolchain.goenv import go_env

    return go_env(action.go_version).identity
