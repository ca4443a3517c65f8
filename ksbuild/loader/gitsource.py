"""Components fetched from other git repositories, at exactly the commit `workspace.lock` records.

A repository is fetched once per machine into a bare mirror in the user cache (GitPython), then
checked out at its commit into `.ksbuild/src/NAME`. A tag is resolved once and its commit written
to `workspace.lock`; after that the lock decides. When the lock and the checkout disagree (the
checkout was moved, or the lock edited), ksbuild refuses to build rather than guess.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager

import yaml

from ksbuild.errors import Problems
from ksbuild.files import write_atomically
from ksbuild.model import Component

LOCK_FILE = "workspace.lock"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def fetch_components(root: str, sources, problems: Problems) -> list[Component]:
    """`sources`: (name, url, rev, line in workspace.yaml, tag pattern)."""
    import git

    lock = _read_lock(root)
    entries = {}
    components = []
    for name, url, rev, line, tags in sources:
        locked = lock.get(name, {})
        try:
            if FULL_SHA.match(rev):
                commit = rev
                if locked.get("git") == url and locked.get("rev") == rev and locked.get("commit") != rev:
                    raise _Refused(f"{LOCK_FILE} records {locked.get('commit')} for rev {rev}",
                                   f"Fix {LOCK_FILE} (its entry must equal the SHA), or delete the entry.")
            elif locked.get("git") == url and locked.get("rev") == rev:
                commit = locked["commit"]
            else:
                commit = _resolve(url, rev)
            checkout = _checkout(root, name, url, commit, relocked=locked.get("commit") != commit)
        except _Refused as err:
            problems.add("workspace.yaml", line, f"component {name!r}: {err.message}", err.hint)
            continue
        except git.GitCommandError as err:
            problems.add("workspace.yaml", line, f"component {name!r}: cannot fetch {url} at {rev}: "
                         f"{(err.stderr or str(err)).strip().splitlines()[-1]}",
                         "Check the URL and that the tag or commit exists there.")
            continue
        entries[name] = {"git": url, "rev": rev, "commit": commit}
        overlay = f"components/{name}/BUILD.yaml"
        build_file = overlay if os.path.isfile(os.path.join(root, overlay)) else ""
        if not build_file and not os.path.isfile(os.path.join(root, checkout, "BUILD.yaml")):
            problems.add("workspace.yaml", line, f"component {name!r}: {url} at {rev} has no BUILD.yaml",
                         f"Write one for it here, as {overlay} (an overlay; paths in it are the repository's).")
            continue
        components.append(Component(name, checkout, "workspace.yaml", line, tags, build_file))
    if entries != lock and not problems.items:
        _write_lock(root, entries)
    return components


class _Refused(Exception):
    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def _mirror(url: str):
    """The machine's bare mirror of `url`, created on first use."""
    import git

    from ksbuild.toolchain import cache_home

    path = os.path.join(cache_home(), "git", hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")
    if not os.path.isdir(path):
        git.Repo.init(path, bare=True)
    return git.Repo(path)


def _fetch(url: str):
    mirror = _mirror(url)
    with _locked(mirror.git_dir):
        mirror.git.fetch("--prune", "--force", url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    return mirror


def _resolve(url: str, rev: str) -> str:
    import git

    mirror = _fetch(url)
    try:
        return mirror.git.rev_parse("--verify", f"refs/tags/{rev}^{{commit}}")
    except git.GitCommandError:
        raise _Refused(f"{url} has no tag {rev!r}", "Give an existing tag, or a full 40-character commit SHA.") from None


def _checkout(root: str, name: str, url: str, commit: str, relocked: bool) -> str:
    """`.ksbuild/src/NAME` at `commit`; made when missing, moved only when the lock just changed."""
    import git

    relative = f".ksbuild/src/{name}"
    path = os.path.join(root, relative)
    if os.path.isdir(os.path.join(path, ".git")):
        repo = git.Repo(path)
        head = repo.head.commit.hexsha
        if head == commit:
            return relative
        if not relocked:
            raise _Refused(f"the checkout {relative} is at {head[:12]}, but {LOCK_FILE} says {commit[:12]}",
                           f"Remove {relative} to check out the locked commit again, or fix {LOCK_FILE}.")
    else:
        mirror = _mirror(url)
        if not _has_commit(mirror, commit):
            mirror = _fetch(url)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        repo = git.Repo.clone_from(mirror.git_dir, path, no_checkout=True)
    try:
        repo.git.checkout("--quiet", "--detach", commit)
    except git.GitCommandError:
        repo.git.fetch("--quiet", "origin", "+refs/tags/*:refs/tags/*", "+refs/heads/*:refs/heads/*")
        repo.git.checkout("--quiet", "--detach", commit)
    return relative


def _has_commit(repo, commit: str) -> bool:
    import git

    try:
        repo.git.cat_file("-e", f"{commit}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def _read_lock(root: str) -> dict:
    try:
        with open(os.path.join(root, LOCK_FILE), encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError:
        return {}
    return data.get("components", {}) if isinstance(data, dict) else {}


def _write_lock(root: str, entries: dict) -> None:
    text = ("# Written by ksbuild: the exact commit of every component fetched from git. Commit this file.\n"
            + yaml.safe_dump({"components": dict(sorted(entries.items()))}, sort_keys=True))
    write_atomically(os.path.join(root, LOCK_FILE), text.encode())


@contextmanager
def _locked(git_dir: str):
    with open(os.path.join(git_dir, "ksbuild.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
