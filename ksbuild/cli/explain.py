"""Why a target runs: compared with what was recorded when it last succeeded."""
from __future__ import annotations

import os

# Parts of a plan, in the order a reason is looked for (most specific first).
_PART_REASONS = (
    ("rule", "rule changed"),
    ("tools", "tool changed"),
    ("tool_binaries", "tool changed"),
    ("command", "command changed"),
    ("outputs", "declared outputs changed"),
    ("layout", "sandbox layout changed"),
)


def plan_change(previous: dict | None, parts: dict, inputs) -> str:
    """Why a plan differs from `previous` ({"parts": ..., "inputs": [...]}, or None)."""
    if not previous or not previous.get("parts"):
        return "never built here"
    before_parts = previous["parts"]
    if before_parts.get("inputs") != parts.get("inputs"):
        before, now = set(previous.get("inputs", ())), set(inputs)
        added, removed = sorted(now - before), sorted(before - now)
        text = "; ".join(filter(None, [
            f"input added: {_short(added)}" if added else "",
            f"input removed: {_short(removed)}" if removed else "",
        ]))
        return text or "input order changed"
    for part, reason in _PART_REASONS:
        if before_parts.get(part) != parts.get(part):
            if part == "rule":
                return f"{reason} ({before_parts.get(part)} -> {parts.get(part)})"
            return reason
    return "plan changed"


def run_reason(task) -> str:
    """Why doit decided to run `task` (called just before it runs)."""
    reason = (task.meta or {}).get("plan_change")
    if reason:
        return reason
    missing = sorted(t for t in task.targets if not os.path.exists(t))
    if missing:
        return f"missing output: {_short(missing)}"
    edited = (task.meta or {}).get("output_changed")
    if edited:
        return f"output changed since the last build: {edited}"
    if task.dep_changed:
        return f"input changed: {_short(sorted(task.dep_changed))}"
    return "forced"


def _short(paths: list[str], limit: int = 5) -> str:
    text = ", ".join(paths[:limit])
    return text + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
