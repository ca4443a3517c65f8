"""Why a target runs: compared with what was recorded when it last succeeded."""
from __future__ import annotations

import os

# Parts of a plan, in the order a reason is looked for (most specific first).
_PART_REASONS = (
    ("rule", "rule changed"),
    ("tools", "tool changed"),
    ("command", "command changed"),
    ("outputs", "declared outputs changed"),
    ("layout", "sandbox layout changed"),
)


def plan_unchanged(task, values, digest, parts):
    """doit `uptodate` check: the plan (everything but input contents) is what last succeeded.
    When it is not, the reason is left on the task for the run record."""
    if values.get("plan") == digest:
        return True
    task.ksbuild_reason = plan_change(values, parts, sorted(task.file_dep))
    return False


def plan_change(values: dict, parts: dict, inputs: list[str]) -> str:
    previous = values.get("parts")
    if not previous:
        return "never built here"
    if previous.get("inputs") != parts.get("inputs"):
        before, now = set(values.get("inputs", ())), set(inputs)
        added, removed = sorted(now - before), sorted(before - now)
        text = "; ".join(filter(None, [
            f"input added: {_short(added)}" if added else "",
            f"input removed: {_short(removed)}" if removed else "",
        ]))
        return text or "input order changed"
    for part, reason in _PART_REASONS:
        if previous.get(part) != parts.get(part):
            if part == "rule":
                return f"{reason} ({previous.get(part)} -> {parts.get(part)})"
            return reason
    return "plan changed"


def run_reason(task) -> str:
    """Why doit decided to run `task` (called just before it runs)."""
    reason = getattr(task, "ksbuild_reason", None)
    if reason:
        return reason
    missing = sorted(t for t in task.targets if not os.path.exists(t))
    if missing:
        return f"missing output: {_short(missing)}"
    if task.dep_changed:
        return f"input changed: {_short(sorted(task.dep_changed))}"
    return "forced"


def _short(paths: list[str], limit: int = 5) -> str:
    text = ", ".join(paths[:limit])
    return text + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
