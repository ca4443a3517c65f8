"""The action key: SHA-256 over a canonical description of everything that can change an action's
outputs. Two runs anywhere with the same key produce the same files."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Callable

from ksbuild.model import ActionSpec, action_parts, digest_of

KEY_FORMAT = 2  # 2: entries carry small files inline (cache.entry format 2)
BUILTINS_VERSION = 1  # bump when an in-process builtin's output changes


@dataclass(frozen=True)
class ActionKey:
    key: str
    parts: dict  # part name -> digest, and "inputs": {workspace path: digest}, to explain a miss

    def record(self) -> dict:
        return {"key": self.key, "parts": self.parts}


def action_key(action: ActionSpec, rule: str, tool_digests: dict[str, str], go_identity: list[str],
               digest: Callable[[str], str], source_dir: Callable[[str], str]) -> ActionKey:
    """The key of `action` as it would run now: `digest(workspace path)` hashes an input as the action
    will see it, `source_dir(workspace dir)` is where an input directory's files are now;
    `tool_digests` are the SHA-256 of the tools' binaries."""
    inputs = {workspace: digest(workspace) for _, workspace in action.inputs}
    for _, directory in action.input_dirs:
        for name in sorted(_files_under(source_dir(directory))):
            inputs[f"{directory}/{name}"] = digest(f"{directory}/{name}")
    parts = {
        "format": str(KEY_FORMAT),
        "rule": rule,
        **action_parts([action], [sorted(tool_digests.items()), go_identity]),
        "platform": _platform() if not action.builtin else f"builtin-{BUILTINS_VERSION}",
        "sandbox": _sandbox() if not action.builtin else "in-process",
    }
    key = digest_of([parts, sorted(inputs.items())])
    return ActionKey(key, dict(parts, inputs=inputs))


def explain_miss(before: dict | None, now: ActionKey) -> str:
    """Which part of the key differs from the last time this action's target ran here."""
    if not before:
        return "no entry for this key; no earlier key recorded here"
    old_parts = before.get("parts", {})
    for part in ("format", "rule", "tools", "platform", "sandbox", "command", "layout"):
        if old_parts.get(part) != now.parts.get(part):
            return f"no entry for this key; {part} changed since the last run here"
    old_inputs, new_inputs = old_parts.get("inputs", {}), now.parts["inputs"]
    changed = sorted(p for p in new_inputs if p in old_inputs and old_inputs[p] != new_inputs[p])
    added = sorted(set(new_inputs) - set(old_inputs))
    removed = sorted(set(old_inputs) - set(new_inputs))
    for label, paths in (("input changed", changed), ("input added", added), ("input removed", removed)):
        if paths:
            return f"no entry for this key; {label}: {', '.join(paths[:3])}" + (" ..." if len(paths) > 3 else "")
    return "no entry for this key (the same key as the last run here: the cache lost it, or it was never stored)"


def _sandbox() -> str:
    """How the action is isolated (exec.isolation): outputs of a copy sandbox are not those of bwrap."""
    from ksbuild.exec.isolation import mode

    return mode()


def _platform() -> str:
    return f"{platform.system()}-{platform.machine()}".lower()


def _files_under(directory: str) -> list[str]:
    from ksbuild.exec.sandbox import files_under

    return list(files_under(directory)) if os.path.isdir(directory) else []
