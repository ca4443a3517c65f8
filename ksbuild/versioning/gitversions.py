"""Each component's version, from its own repository's tags (GitPython).

Computed once per run. Importing GitPython costs more than a whole no-op build, so a cheap
fingerprint of the repository (HEAD, the tag refs, and `git status` of the component) decides
first whether the versions recorded in `.ksbuild/versions.json` still hold.

A component is dirty when files in it changed, other than the `outputs` its caller names: the build's
own outputs in a checkout fetched from another repository (see `fetched_outputs`).
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import subprocess
from dataclasses import asdict, dataclass

from ksbuild.files import write_if_changed
from ksbuild.model import FETCHED_DIR
from ksbuild.versioning import semver

VERSIONS_FILE = os.path.join(".ksbuild", "versions.json")



@dataclass(frozen=True)
class ComponentVersion:
    version: str
    commit: str  # the commit the version names ("" outside git)
    tag: str  # the tag it was taken from ("" for a development version)
    dirty: bool
    released: tuple[str, ...]  # every version the component's tags name, oldest first by `ordering`
    ordering: str  # how tags were ordered (semver.ORDERING): the latest release, the tag HEAD follows
    commit_time: int  # the commit's time (seconds since 1970): SOURCE_DATE_EPOCH of what it builds

    @property
    def publishable(self) -> bool:
        return not self.dirty


def version_file(name: str) -> str:
    """Where one component's version is written: an explicit input of the actions that use it."""
    return os.path.join(".ksbuild", "versions", f"{name}.json")


def versions(root: str, components) -> dict[str, ComponentVersion]:
    """`components`: (name, directory, tag pattern[, outputs]); directories are absolute, outputs as
    for `compute`."""
    return versions_and_fingerprint(root, components)[0]


def versions_and_fingerprint(root: str, components) -> tuple[dict[str, ComponentVersion], str]:
    """The versions, and the fingerprint of the git state they were read from (what the no-op fast
    path compares later)."""
    components = [(name, directory, pattern, tuple(rest[0]) if rest else ())
                  for name, directory, pattern, *rest in components]
    state_path = os.path.join(root, VERSIONS_FILE)
    fingerprint = _fingerprint(components)
    try:
        with open(state_path, encoding="utf-8") as handle:
            recorded = json.load(handle)
        if recorded.get("fingerprint") == fingerprint:  # a record without `ordering` raises TypeError
            loaded = {name: ComponentVersion(**{**value, "released": tuple(value["released"])})
                      for name, value in recorded["versions"].items()}
            if all(v.ordering == semver.ORDERING for v in loaded.values()):  # else ordered by another rule
                return loaded, fingerprint
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = {name: compute(directory, pattern, outputs) for name, directory, pattern, outputs in components}
    state = {"fingerprint": fingerprint, "versions": {n: asdict(v) for n, v in found.items()}}
    write_if_changed(state_path, json.dumps(state, sort_keys=True).encode())
    for name, version in found.items():
        write_if_changed(os.path.join(root, version_file(name)), json.dumps(asdict(version), sort_keys=True).encode())
    return found, fingerprint


def fingerprint_unchanged(components, fingerprint: str) -> bool:
    """Is the git state of `components` (as versions_and_fingerprint takes them) still `fingerprint`?"""
    return _fingerprint([(name, directory, pattern, tuple(outputs)) for name, directory, pattern, outputs
                         in components]) == fingerprint


def fetched_outputs(graph, component) -> tuple[str, ...]:
    """What the build writes in `component`'s directory, relative to it (owned directories end in
    '/'): the `outputs` of `compute`, for a component fetched from another repository (checked out
    under `.ksbuild/src/`) only. Its version names the upstream commit, and our regenerating a
    derived file in the checkout does not change the component. In the workspace's own repository
    derived files are committed, and one that differs is an uncommitted change like any other: ()."""
    if not component.path.startswith(FETCHED_DIR + "/"):
        return ()
    prefix = component.path + "/"
    paths = [path for plan in graph.plans.values() for path in plan.outputs]
    paths += [directory + "/" for plan in graph.plans.values() for directory in plan.output_dirs]
    return tuple(sorted({path[len(prefix):] for path in paths if path.startswith(prefix)}))


def compute(directory: str, pattern: str = "v*", outputs=()) -> ComponentVersion:
    """`outputs`: paths relative to `directory` (directories end in '/') whose changes do not make
    the component dirty (see fetched_outputs)."""
    import git

    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ComponentVersion("0.0.0-dev.0.gunknown", "", "", True, (), semver.ORDERING, 0)
    repo.git.update_environment(GIT_OPTIONAL_LOCKS="0")
    prefix = pattern.split("*", 1)[0]
    tags = {}
    for name in repo.git.tag("--list", pattern).split():
        parsed = semver.parse(name[len(prefix):].removeprefix("v") if name.startswith(prefix) else "")
        if parsed is not None:
            tags[name] = parsed
    # One order (semver.ORDERING) for all three: `released`, the tag at HEAD, the last tag before HEAD.
    released = tuple(str(v) for v in sorted(set(tags.values()), key=semver.Version.sort_key))
    try:
        head = repo.head.commit.hexsha
    except ValueError:  # no commit yet
        return ComponentVersion("0.0.0-dev.0.g000000000000.dirty", "", "", True, released, semver.ORDERING, 0)
    dirty = bool(repo.git.status("--porcelain", "--untracked-files=no", "--",
                                 *_pathspecs(repo.working_tree_dir, directory, outputs)))
    at_head = [t for t in repo.git.tag("--points-at", "HEAD", "--list", pattern).split() if t in tags]
    if at_head and not dirty:
        best = max(at_head, key=lambda t: tags[t].sort_key())
        return ComponentVersion(str(tags[best]), head, best, False, released, semver.ORDERING,
                                repo.head.commit.committed_date)
    reachable = [t for t in repo.git.tag("--merged", "HEAD", "--list", pattern).split() if t in tags]
    last = max(reachable, key=lambda t: tags[t].sort_key()) if reachable else None
    since = int(repo.git.rev_list("--count", f"{last}..HEAD" if last else "HEAD"))
    version = semver.development(tags[last] if last else None, since, head, dirty)
    return ComponentVersion(str(version), head, "", dirty, released, semver.ORDERING, repo.head.commit.committed_date)


def _fingerprint(components) -> str:
    """HEAD, the tag refs and the components' uncommitted changes (their outputs left out, as in
    `compute`): one `git status` per repository."""
    by_repo: dict[str, list] = {}
    for name, directory, pattern, outputs in components:
        by_repo.setdefault(_git_top(directory), []).append((name, directory, pattern, outputs))
    parts = []
    for top, members in sorted(by_repo.items()):
        status = ""
        if top:
            paths = [spec for _, directory, _, outputs in members for spec in _pathspecs(top, directory, outputs)]
            try:
                status = subprocess.run(["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no", "--",
                                         *paths], cwd=top, capture_output=True, text=True,
                                        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout
            except OSError:
                status = "no git"
        git_dir = _git_dir(top) if top else ""
        refs = [_stat(os.path.join(git_dir, "packed-refs"))]
        tags_dir = os.path.join(git_dir, "refs", "tags")
        for directory, _, names in sorted(os.walk(tags_dir)) if git_dir else ():  # `kubestellar/v1` nests
            refs += [(os.path.relpath(os.path.join(directory, name), tags_dir), _stat(os.path.join(directory, name)))
                     for name in sorted(names)]
        parts.append([top, members, status, refs])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _pathspecs(top: str, directory: str, outputs) -> list[str]:
    """`git status` pathspecs, relative to the working tree `top`: the component's directory, without
    its outputs (literal paths: a `*` in a file name is no glob)."""
    inside = os.path.relpath(os.path.realpath(directory), os.path.realpath(top)).replace(os.sep, "/")
    return [inside] + [f":(exclude,literal){posixpath.normpath(posixpath.join(inside, output))}"
                       + ("/" if output.endswith("/") else "") for output in outputs]


def _git_top(directory: str) -> str:
    """The working tree holding `directory` (where `.git` is), found without running git."""
    current = os.path.abspath(directory)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return ""
        current = parent


def _git_dir(top: str) -> str:
    dot_git = os.path.join(top, ".git")
    if os.path.isfile(dot_git):  # a worktree or submodule: "gitdir: PATH"
        with open(dot_git, encoding="utf-8") as handle:
            target = handle.read().split("gitdir:", 1)[-1].strip()
        return os.path.join(top, target)
    return dot_git


def _stat(path: str) -> str:
    try:
        stat = os.stat(path)
        return f"{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        return "-"
