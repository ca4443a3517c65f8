"""Components fetched from other git repositories, at exactly the commit `workspace.lock` records.

A repository is fetched once per machine into a bare mirror in the user cache (GitPython), then
checked out at its commit into `.ksbuild/src/NAME`; a commit the mirror lacks is fetched from the
URL first. A tag is resolved once and its commit written to `workspace.lock`; after that the lock
decides. When the checkout is elsewhere (the lock was edited, the workspace switched branches, the
checkout was moved by hand), it is moved to the locked commit, unless it has changes of its own that
moving would lose: then ksbuild refuses to build rather than guess. Files the build wrote into the
checkout (`.ksbuild/outputs.json`) are not changes of its own: the build makes them again.

What workspace.yaml and workspace.lock say never reaches git as an option: `git:` is an https://,
ssh://, git:// or file:/// URL, or scp-like USER@HOST:PATH (no other transport, such as `ext::`, and
no host or user starting with '-'); `rev:` is a tag name by git's refname rules or a full 40-hex
commit SHA; a locked commit is a full SHA; and every URL and commit follows `--` on git's command line.
"""
from __future__ import annotations

import fcntl
import hashlib
import itertools
import os
import re
import sys
from contextlib import contextmanager

from ksbuild.errors import Problems
from ksbuild.loader.lockfile import LOCK_FILE, read_section, write_section
from ksbuild.model import FETCHED_DIR, Component

SRC_DIR = FETCHED_DIR
FULL_SHA = re.compile(r"[0-9a-f]{40}")
URL_FORMS = ("https://HOST/PATH, ssh://[USER@]HOST[:PORT]/PATH, git://HOST/PATH, file:///PATH or "
             "scp-like USER@HOST:PATH")
_URL = re.compile(r"(?P<scheme>https|ssh|git|file)://(?P<authority>[^/?#]*)(?P<path>/[^?#]*)?")
_HOST_NAME = r"([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])"  # never starting with '-' (an ssh option)
_HOST = re.compile(r"([A-Za-z0-9._~%!$&'()*+,;=][A-Za-z0-9._~%!$&'()*+,;=:-]*@)?" + _HOST_NAME + r"(:[0-9]{1,5})?")
_SCP_LIKE = re.compile(r"[A-Za-z0-9._~+-]+@" + _HOST_NAME + r":(?P<path>[^:].*)")


def url_problem(url: str) -> str:
    """Why `url` cannot be a component's `git:` ('' when it can). Nothing a user writes may reach git as
    an option or a transport helper (`--upload-pack=...`, `ext::sh -c ...`, `-oProxyCommand=...` as an
    ssh host): only https://, ssh://, git:// and file:// URLs, and scp-like USER@HOST:PATH."""
    if url.startswith("-"):
        return "starts with '-' (git would read it as an option)"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return "holds a control character"
    found = _URL.fullmatch(url)
    if found:
        authority, path = found["authority"], found["path"] or ""
        if found["scheme"] == "file":
            return "" if authority in ("", "localhost") and len(path) > 1 else "is not file:///ABSOLUTE/PATH"
        if not _HOST.fullmatch(authority):
            return f"has no valid host (found {authority!r})"
        return "" if len(path) > 1 else "names no repository path"
    scp = _SCP_LIKE.fullmatch(url)
    if scp and not scp["path"].startswith("-"):
        return ""
    return "is not a URL ksbuild fetches from"


def rev_problem(rev: str) -> str:
    """Why `rev` cannot be a component's `rev:` ('' when it can): a full 40-hex commit SHA, or a tag
    name by git's refname rules (git check-ref-format), never starting with '-'."""
    if FULL_SHA.fullmatch(rev):
        return ""
    if rev.startswith("-"):
        return "starts with '-' (git would read it as an option)"
    parts = rev.split("/")
    if (rev == "@" or ".." in rev or "@{" in rev or rev.endswith(".")
            or any(not part or part.startswith(".") or part.endswith(".lock") for part in parts)
            or any(ord(char) < 0x21 or ord(char) == 0x7F or char in "~^:?*[\\" for char in rev)):
        return "is not a valid tag name (see `git check-ref-format`)"
    return ""


def fetch_components(root: str, sources, problems: Problems) -> list[Component]:
    """`sources`: (name, url, rev, line in workspace.yaml, tag pattern)."""
    import git

    lock = _read_lock(root)
    entries = {}
    components = []
    for name, url, rev, line, tags in sources:
        locked = lock.get(name, {})
        if not isinstance(locked, dict):
            locked = {}
        try:
            if url_problem(url) or rev_problem(rev):  # checked when workspace.yaml loads; never reaches git
                raise _Refused(f"refused git {url!r} at rev {rev!r}: {url_problem(url) or rev_problem(rev)}",
                               f"Give a URL of the form {URL_FORMS}, and a tag or a full commit SHA.")
            if FULL_SHA.fullmatch(rev):
                commit = rev
                if locked.get("git") == url and locked.get("rev") == rev and locked.get("commit") != rev:
                    raise _Refused(f"{LOCK_FILE} records {locked.get('commit')} for rev {rev}",
                                   f"Fix {LOCK_FILE} (its entry must equal the SHA), or delete the entry.")
            elif locked.get("git") == url and locked.get("rev") == rev:
                commit = locked.get("commit")
                if not isinstance(commit, str) or not FULL_SHA.fullmatch(commit):
                    raise _Refused(f"{LOCK_FILE} records {commit!r} for rev {rev}, which is not a full commit SHA",
                                   f"Fix {LOCK_FILE} (40 hexadecimal digits), or delete the entry to resolve "
                                   f"{rev} again.")
            else:
                commit = _resolve(url, rev)
            checkout = _checkout(root, name, url, commit)
        except _Refused as err:
            problems.add("workspace.yaml", line, f"component {name!r}: {err.message}", err.hint)
            continue
        except git.GitCommandError as err:
            problems.add("workspace.yaml", line, f"component {name!r}: cannot fetch {url} at {rev}: {_git_error(err)}",
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
        mirror.git.fetch("--prune", "--force", "--", url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    return mirror


def _resolve(url: str, rev: str) -> str:
    import git

    mirror = _fetch(url)
    try:
        return mirror.git.rev_parse("--verify", f"refs/tags/{rev}^{{commit}}")
    except git.GitCommandError:
        raise _Refused(f"{url} has no tag {rev!r}", "Give an existing tag, or a full 40-character commit SHA.") from None


def _mirror_with(url: str, commit: str):
    """The mirror, fetched from `url` first when it lacks `commit` (by its SHA when no branch or tag
    holds it, as for a pull request's commit: servers speaking git's protocol v2 allow that)."""
    mirror = _mirror(url)
    if not _has_commit(mirror, commit):
        _fetch(url)
        if not _has_commit(mirror, commit):
            with _locked(mirror.git_dir):
                mirror.git.fetch("--quiet", "--", url, commit)
    return mirror


def _checkout(root: str, name: str, url: str, commit: str) -> str:
    """`.ksbuild/src/NAME` at `commit`: cloned when missing; moved there when it is elsewhere (one line
    says so), unless it has changes of its own (see _make_way)."""
    import git

    relative = f"{SRC_DIR}/{name}"
    path = os.path.join(root, relative)
    head = ""
    if os.path.isdir(os.path.join(path, ".git")):
        repo = git.Repo(path)
        head = repo.head.commit.hexsha
        if head == commit:
            return relative
        _make_way(root, relative, repo, head, commit)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        repo = git.Repo.clone_from(_mirror_with(url, commit).git_dir, path, no_checkout=True)
    if not _has_commit(repo, commit):  # from the mirror, fetched first if it lacks the commit too
        repo.git.fetch("--quiet", "--", _mirror_with(url, commit).git_dir, commit)
    try:
        repo.git.checkout("--quiet", "--detach", commit, "--")  # a commit, never a path or an option
    except git.GitCommandError as err:  # untracked files of its own in the way, say
        raise _Refused(f"cannot move the checkout {relative} to {commit[:12]}: {_git_error(err)}",
                       f"Move away what git names there, or remove {relative}.") from None
    if head:
        sys.stderr.write(f"ksbuild: moved {relative} from {head[:12]} to {commit[:12]} ({LOCK_FILE})\n")
    return relative


def _make_way(root: str, relative: str, repo, head: str, commit: str) -> None:
    """Before moving a checkout: refuse when it has changes of its own (tracked files changed, other
    than by the build); set aside what the build wrote there, which it makes again at any commit.
    Untracked files of its own stay; git refuses to overwrite one."""
    from ksbuild.state import previous_outputs

    prefix = relative + "/"
    produced = {path[len(prefix):] for outputs in previous_outputs(root).values() for path in outputs
                if path.startswith(prefix)}
    entries = iter(repo.git.status("--porcelain", "-z", "--untracked-files=all").split("\0"))
    own, made, rewritten = [], [], False
    for entry in entries:
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            next(entries, None)  # the path it was renamed or copied from
        if path in produced:
            if code == "??":
                made.append(path)
            else:
                rewritten = True
        elif code != "??":
            own.append(path)
    if own:
        more = f" and {len(own) - 5} more" if len(own) > 5 else ""
        raise _Refused(f"the checkout {relative} is at {head[:12]}, but {LOCK_FILE} says {commit[:12]}, and it has "
                       f"changes of its own: {', '.join(own[:5])}{more}",
                       f"Save them (git -C {relative} stash) or drop them (git -C {relative} checkout -- .), then "
                       f"run again; or remove {relative}.")
    for path in made:  # untracked where the build wrote it; the next commit may track it
        os.remove(os.path.join(repo.working_tree_dir, path))
    if rewritten:
        repo.git.reset("--quiet", "--hard")


def _git_error(err) -> str:
    """git's message, without GitPython's wrapping: its error line with the paths it lists, else its last line."""
    lines = (err.stderr or str(err)).strip().removeprefix("stderr:").strip().strip("'").splitlines()
    for at, line in enumerate(lines):
        if line.startswith(("fatal:", "error:")):
            listed = itertools.takewhile(lambda path: path.startswith("\t"), lines[at + 1:])
            return " ".join([line.strip(), *(path.strip() for path in listed)])
    return next((line.strip() for line in reversed(lines) if line.strip()), str(err))


def _has_commit(repo, commit: str) -> bool:
    import git

    try:
        repo.git.cat_file("-e", f"{commit}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def locked(root: str, name: str) -> dict:
    """Component `name`'s entry in the workspace's lock (git, rev, commit), or {}."""
    entry = _read_lock(root).get(name)
    return entry if isinstance(entry, dict) else {}


def _read_lock(root: str) -> dict:
    return read_section(root, "components")


def _write_lock(root: str, entries: dict) -> None:
    write_section(root, "components", entries)


@contextmanager
def _locked(git_dir: str):
    with open(os.path.join(git_dir, "ksbuild.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
