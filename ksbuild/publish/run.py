"""`doit release` and `doit publish`: which components are published, and the whole sequence.

- release: every component whose commit is exactly one of its release tags (`kubestellar/v0.20.0`)
  is published at that version, each from its own tag; none at a tag, or uncommitted changes,
  refuse the release before anything is built.
- publish --dev: every component that is not at a release tag is published at its development
  version (X.Y.Z-dev.N.gSHA), to `publish.dev_prefix` when configured; `publish` alone does that on
  an untagged commit and a release on a tagged one.

doit runs the gate (`release-check`), `doit verify` and the targets the publish builds first; then
`run` plans, checks every tag and reference against the registries (nothing is pushed if any
check fails), pushes images, then charts, and writes the release directory.
"""
from __future__ import annotations

import os
import subprocess

from ksbuild.publish import PublishError

RELEASE_DIR = os.path.join(".ksbuild", "release")
DRY_RUN_DIR = os.path.join(".ksbuild", "release-plan")  # a dry run never replaces the last release's record


def in_scope(versions: dict, mode: str) -> list[str]:
    """The components a publish in `mode` ("release", "dev" or "auto") publishes."""
    tagged = [name for name, v in versions.items() if v.tag and not v.dirty]
    if mode == "auto":
        mode = "release" if tagged else "dev"
    if mode == "release":
        return sorted(tagged)
    return sorted(name for name, v in versions.items() if not v.tag)


def gate(root: str, versions: dict, mode: str) -> list[str]:
    """The components to publish, or PublishError when nothing may be published from this tree."""
    dirty = sorted(name for name, v in versions.items() if v.dirty) or _uncommitted(root)
    if dirty:
        raise PublishError(f"uncommitted changes ({', '.join(dirty[:5])}): {_verb(mode)} only from a clean "
                           "checkout, so that every tag names what was pushed; commit or stash them")
    components = in_scope(versions, mode)
    if not components:
        if mode == "dev":
            raise PublishError("every component is at a release tag: `doit release` publishes them")
        raise PublishError("no component is at a release tag: tag the commit (e.g. `git tag kubestellar/v0.20.0`) "
                           "to release it, or publish development versions with `doit publish --dev`")
    return components


def run(graph, versions: dict, mode: str, override: str, dry_run: bool, out: str, say) -> str:
    """Plan, check, push (unless `dry_run`) and write the release directory; returns the manifest's path."""
    from ksbuild.publish.plan import plan_publish
    from ksbuild.publish.release import preflight, push_all, write_release

    root = graph.workspace.root
    components = gate(root, versions, mode)
    plan = plan_publish(graph, versions, components, override)
    checked = preflight(plan)
    if dry_run:
        for item in checked:
            say(f"would {'push' if item.status == 'new' else 'keep (already there)'} {item.push.reference}@{item.digest}")
    statuses = None if dry_run else push_all(checked, say)
    directory = os.path.join(root, out or (DRY_RUN_DIR if dry_run else RELEASE_DIR))
    release_mode = "release" if all(versions[c].tag for c in components) else "dev"
    return write_release(directory, plan, checked, statuses, root, release_mode + (" (dry run)" if dry_run else ""))


def _uncommitted(root: str) -> list[str]:
    """Tracked files changed anywhere in the workspace's repository (workspace.yaml included)."""
    try:
        reply = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], cwd=root,
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line[3:] for line in reply.stdout.splitlines() if line[3:] and not line[3:].startswith(".ksbuild/")]


def _verb(mode: str) -> str:
    return "release" if mode == "release" else "publish"
