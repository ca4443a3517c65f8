"""workspace.yaml: which components make up the workspace."""
from __future__ import annotations

import os
import re
from dataclasses import replace

from ksbuild.errors import ConfigError, Problems
from ksbuild.loader import yamlfile
from ksbuild.loader.schema import Field, check
from ksbuild.model import CacheSettings, Component, ToolPin, Workspace
from ksbuild.rootdir import WORKSPACE_FILE, find_root

BUILD_FILE = "BUILD.yaml"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Task names ksbuild defines itself, and doit's commands: a component may not take them.
RESERVED_NAMES = frozenset({
    "build", "generate", "graph", "verify", "versions", "tools", "tool", "cache-gc", "explain",
    "run", "list", "info", "clean", "forget", "ignore", "help", "auto", "dumpdb", "strace",
    "reset-dep", "tabcompletion", "push", "load", "release", "publish", "release-check", "publish-check",
})

WORKSPACE_FIELDS = (
    Field("components", "mapping", "the components of the workspace, by name", required=True),
    Field("tools", "mapping", "pinned tools, by name: each is installed with `go install package@version`"),
    Field("cache", "mapping", "the action cache: local directory and size, and a remote shared by CI runners"),
    Field("go", "string", "the Go release every Go action runs with and tools are built with, e.g. \"1.26.8\" "
          "(Go fetches it through the module proxy); default: the machine's Go"),
    Field("publish", "mapping", "how `doit release` and `doit publish` publish: `dev_prefix`"),
    Field("registries", "mapping", "settings per registry host (HOST or HOST:PORT): `insecure: true` allows plain "
          "HTTP, for a registry on 127.0.0.1 (never for a public one)"),
)
PUBLISH_FIELDS = (
    Field("dev_prefix", "string", "where development versions are published: REGISTRY[/PATH]; an artifact's "
          "repository keeps its path under it (ghcr.io/org/x -> PREFIX/org/x), and every reference built on an "
          "untagged commit names it. Default: the artifacts' own repositories"),
)
REGISTRY_FIELDS = (
    Field("insecure", "bool", "speak plain HTTP to it (a loopback or test registry)"),
)
CACHE_FIELDS = (
    Field("dir", "string", "the local cache directory (default ~/.cache/ksbuild/actions; env KSBUILD_CACHE_DIR)"),
    Field("max_size", "string", "what `doit cache-gc` trims the local cache to, e.g. 10GiB (default 5GiB)"),
    Field("remote", "string", "a shared cache: `http(s)://HOST[:PORT][/PREFIX]` speaking the Bazel HTTP cache "
          "protocol, or `file:///DIR` (env KSBUILD_REMOTE_CACHE)"),
    Field("remote_mode", "string", "`rw` (read and write), `ro` (read only: untrusted builds) or `off` "
          "(default rw; env KSBUILD_REMOTE_CACHE_MODE)"),
    Field("remote_timeout", "int", "seconds before a remote request gives up (default 5)"),
    Field("remote_auth_env", "string", "the environment variable whose value is sent as the Authorization "
          "header (default KSBUILD_REMOTE_CACHE_AUTH); it never appears in logs or errors"),
    Field("signing_key_env", "string", "the environment variable holding the key that signs the entries this "
          "machine writes (HMAC-SHA-256; default KSBUILD_CACHE_SIGNING_KEY); its value is never stored or shown"),
    Field("require_signature", "bool", "use only entries signed with that key; unsigned or badly signed ones are "
          "misses with a warning (default false; env KSBUILD_CACHE_REQUIRE_SIGNATURE=1)"),
)
TOOL_FIELDS = (
    Field("package", "string", "the Go package of the command, e.g. sigs.k8s.io/controller-tools/cmd/controller-gen",
          required=True),
    Field("version", "string", "an exact module version, e.g. v0.17.3 (never `latest` or a branch)", required=True),
    Field("go", "string", "the Go release that builds it, e.g. \"1.21.13\" for a tool that newer Go cannot "
          "compile (default: the component's or workspace's `go`)"),
)
# Exact versions: semantic versions, including Go's pseudo-versions; `latest`, `master`, `v1`... float.
EXACT_VERSION = re.compile(r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
COMPONENT_FIELDS = (
    Field("path", "text", "the component's directory, relative to workspace.yaml; it holds BUILD.yaml "
          "(or give `git` and `rev`)"),
    Field("git", "string", "a git repository URL the component is fetched from (into .ksbuild/src/NAME, at "
          "the commit workspace.lock records): https://, ssh://, git://, file:/// or USER@HOST:PATH, never an "
          "option; its BUILD.yaml may instead be components/NAME/BUILD.yaml here"),
    Field("rev", "string", "with `git`: a tag or a full commit SHA"),
    Field("tags", "string", "the git tags its version comes from (default `v*`; e.g. `kubestellar/v*` when "
          "components share a repository): the part after the pattern's prefix is the version"),
    Field("tools", "mapping", "the component's own tool pins (same fields as `tools:`), over the workspace's: "
          "for repositories that pin different generator versions"),
    Field("go", "string", "the Go release the component's Go actions run with (default: the workspace's `go`)"),
)
# Go releases as GOTOOLCHAIN names them: 1.21.13, 1.22.0, 1.23rc1.
GO_RELEASE = re.compile(r"^1\.\d+(\.\d+|rc\d+)$")


def load_workspace(root: str) -> Workspace:
    root = os.path.abspath(root)
    data = load_yaml(os.path.join(root, WORKSPACE_FILE), WORKSPACE_FILE)
    problems = Problems()
    check(data, WORKSPACE_FIELDS, file=WORKSPACE_FILE, line=getattr(data, "line", 1), where="workspace.yaml",
          problems=problems)
    entries = data.get("components") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        problems.raise_if_any()
    workspace_go = _go_release(data, "workspace", problems)
    components, git_sources, own = [], [], {}
    for name, spec in entries.items():
        line = entries.line_of(name)
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            problems.add(WORKSPACE_FILE, line, f"component name {name!r} is not valid",
                         "Use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit.")
            continue
        if name in RESERVED_NAMES:
            problems.add(WORKSPACE_FILE, line, f"component name {name!r} is reserved for a ksbuild or doit command",
                         "Rename the component.")
            continue
        where = f"component {name!r}"
        if not check(spec, COMPONENT_FIELDS, file=WORKSPACE_FILE, line=line, where=where, problems=problems):
            continue
        if ("path" in spec) == ("git" in spec) or ("git" in spec) != ("rev" in spec):
            problems.add(WORKSPACE_FILE, line, f"{where}: give either `path`, or `git` and `rev`",
                         "A component is a directory here, or a repository fetched at a tag or commit.")
            continue
        go = _go_release(spec, where, problems) or workspace_go
        own[name] = (tuple(_tools(spec.get("tools") or {}, problems, go, owner=name)), go if "go" in spec else "")
        if "git" in spec:
            if _git_source_ok(spec, where, problems):
                git_sources.append((name, spec["git"], spec["rev"], line, spec.get("tags", "v*")))
            continue
        path = _component_path(spec["path"], root, problems, spec.line_of("path"), where)
        if path is not None:
            components.append(Component(name, path, WORKSPACE_FILE, line, spec.get("tags", "v*")))
    if git_sources and not problems.items:
        from ksbuild.loader.gitsource import fetch_components

        components += fetch_components(root, git_sources, problems)
    components = [replace(c, tools=own[c.name][0], go=own[c.name][1]) for c in components]
    tools = _tools(data.get("tools") or {}, problems, workspace_go)
    cache = _cache(data.get("cache"), problems)
    problems.raise_if_any()
    registries = _registries(data.get("registries"), problems)
    dev_prefix = _dev_prefix(data.get("publish"), problems)
    problems.raise_if_any()
    return Workspace(root=root, file=WORKSPACE_FILE, components=tuple(components), tools=tuple(tools), cache=cache,
                     tool_lines=tuple((t.name, (data.get("tools") or {}).line_of(t.name)) for t in tools),
                     go=workspace_go, registries=registries, dev_prefix=dev_prefix)


DEV_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def _dev_prefix(spec, problems: Problems) -> str:
    if spec is None:
        return ""
    if not check(spec, PUBLISH_FIELDS, file=WORKSPACE_FILE, line=getattr(spec, "line", 0), where="publish",
                 problems=problems):
        return ""
    prefix = spec.get("dev_prefix", "")
    if prefix and not DEV_PREFIX.fullmatch(prefix):
        problems.add(WORKSPACE_FILE, spec.line_of("dev_prefix"), f"publish.dev_prefix {prefix!r} is not a "
                     "registry with an optional path", "Write it as in an image name, without a tag: "
                     "ghcr.io/kubestellar/dev or 127.0.0.1:5000/dev.")
        return ""
    return prefix


REGISTRY_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def _registries(entries, problems: Problems) -> tuple:
    """`registries:` as ((host, {"insecure": bool}), ...)."""
    found = []
    for host, spec in (entries or {}).items() if isinstance(entries, dict) else ():
        line = entries.line_of(host)
        if not isinstance(host, str) or not REGISTRY_HOST.fullmatch(host):
            problems.add(WORKSPACE_FILE, line, f"registry {host!r} is not a host or host:port",
                         "Write it as in an image name: 127.0.0.1:5000, registry.example.org.")
            continue
        if check(spec, REGISTRY_FIELDS, file=WORKSPACE_FILE, line=line, where=f"registry {host!r}", problems=problems):
            found.append((host, {"insecure": bool(spec.get("insecure", False))}))
    return tuple(found)


def load_yaml(path: str, display: str):
    """yamlfile.load, with a value no constructor accepts (`2020-13-45` read as a date) reported at its
    line instead of escaping as a ValueError."""
    try:
        return yamlfile.load(path, display)
    except (ValueError, OverflowError) as err:
        raise ConfigError.one(display, _bad_scalar_line(path), f"YAML value error: {err}",
                              "Quote the value to make it a string.") from None


def _bad_scalar_line(path: str) -> int:
    """The line of the first scalar PyYAML cannot construct (0 if none is found): only on that error."""
    import yaml

    constructor = yaml.constructor.SafeConstructor()
    try:
        with open(path, encoding="utf-8") as handle:
            pending = [yaml.compose(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))]
    except (OSError, ValueError, yaml.YAMLError):
        return 0
    while pending:
        node = pending.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except (ValueError, OverflowError):
                return node.start_mark.line + 1
            except yaml.YAMLError:
                continue
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(item for pair in node.value for item in pair)
    return 0


def _git_source_ok(spec, where: str, problems: Problems) -> bool:
    """A `git:` URL and `rev:` that can never reach git as an option (see gitsource.url_problem)."""
    from ksbuild.loader.gitsource import URL_FORMS, rev_problem, url_problem

    ok = True
    if url_problem(spec["git"]):
        problems.add(WORKSPACE_FILE, spec.line_of("git"), f"{where}: git {spec['git']!r} {url_problem(spec['git'])}",
                     f"Give the repository's URL as {URL_FORMS}.")
        ok = False
    if rev_problem(spec["rev"]):
        problems.add(WORKSPACE_FILE, spec.line_of("rev"), f"{where}: rev {spec['rev']!r} {rev_problem(spec['rev'])}",
                     "Give a tag name (as `git tag` lists it) or a full 40-character commit SHA.")
        ok = False
    return ok


def _go_release(spec, where: str, problems: Problems) -> str:
    """A `go:` field: a Go release such as 1.21.13 ('' when absent or wrong, which is reported)."""
    value = spec.get("go") if isinstance(spec, dict) else None
    if not isinstance(value, str):
        return ""  # absent, or not a string (`go: 1.22` reads as a number): the field check says so
    if not GO_RELEASE.match(value):
        problems.add(WORKSPACE_FILE, spec.line_of("go"), f"{where}: go {value!r} is not a Go release",
                     'Write a release as Go names it, quoted: go: "1.21.13" (or "1.23rc1").')
        return ""
    return value


def _tools(entries, problems: Problems, go: str, owner: str = "") -> list[ToolPin]:
    """Pins from a `tools:` mapping; `go` is the release that builds them unless a pin names its own."""
    tools = []
    if not isinstance(entries, dict):
        return tools
    for name, spec in entries.items():
        line = entries.line_of(name)
        where = f"tool {name!r}" + (f" of component {owner!r}" if owner else "")
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            problems.add(WORKSPACE_FILE, line, f"tool name {name!r} is not valid",
                         "Use lower-case letters, digits, '.', '_' and '-'.")
            continue
        if not check(spec, TOOL_FIELDS, file=WORKSPACE_FILE, line=line, where=where, problems=problems):
            continue
        version = spec["version"]
        if not EXACT_VERSION.match(version):
            problems.add(WORKSPACE_FILE, spec.line_of("version"),
                         f"{where}: version {version!r} is not exact (it floats)",
                         "Pin an exact release such as v1.2.3; see `go list -m -versions MODULE` for the list.")
            continue
        if not GO_PACKAGE.match(spec["package"]):
            problems.add(WORKSPACE_FILE, spec.line_of("package"), f"{where}: package {spec['package']!r} is not "
                         "a Go package path", "Write the command's import path, e.g. "
                         "sigs.k8s.io/controller-tools/cmd/controller-gen.")
            continue
        tools.append(ToolPin(name, spec["package"], version, _go_release(spec, where, problems) or go, owner))
    return tools


# An import path: dot-separated host, then path elements; never an option or a URL.
GO_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(/[A-Za-z0-9._~+-]+)+$")


def _cache(spec, problems: Problems) -> CacheSettings:
    if spec is None:
        return CacheSettings()
    line = spec.line if hasattr(spec, "line") else 0
    if not check(spec, CACHE_FIELDS, file=WORKSPACE_FILE, line=line, where="cache", problems=problems):
        return CacheSettings()
    settings = CacheSettings(**{key: value for key, value in spec.items()})
    for key, error in settings.errors():
        problems.add(WORKSPACE_FILE, spec.line_of(key), f"cache: {error}", "See the cache fields in README.md.")
    return settings


def _component_path(raw: str, root: str, problems: Problems, line: int, where: str) -> str | None:
    path = os.path.normpath(raw).replace(os.sep, "/")
    if os.path.isabs(raw) or path == ".." or path.startswith("../"):
        problems.add(WORKSPACE_FILE, line, f"{where}: path {raw!r} is outside the workspace",
                     "Give a directory inside the workspace, relative to workspace.yaml.")
        return None
    real_root = os.path.realpath(root)
    for place in (path, os.path.join(path, BUILD_FILE)):
        real = os.path.realpath(os.path.join(root, place))
        if real != real_root and not real.startswith(real_root + os.sep):
            problems.add(WORKSPACE_FILE, line, f"{where}: {place!r} is a symbolic link leading out of the "
                         f"workspace (to {real})", "Components live inside the workspace: replace the link by "
                         "the directory, or fetch the repository with `git` and `rev`.")
            return None
    if not os.path.isfile(os.path.join(root, path, BUILD_FILE)):
        problems.add(WORKSPACE_FILE, line, f"{where}: no {BUILD_FILE} in {path!r}",
                     f"Create {path}/{BUILD_FILE} (it may hold just `targets: {{}}`) or fix the path.")
        return None
    return path


def require_root(start: str) -> str:
    root = find_root(start)
    if root is None:
        raise ConfigError.one(os.path.abspath(start), 0, f"no {WORKSPACE_FILE} here or in any parent directory",
                              "Run ksbuild inside a workspace, or create workspace.yaml at its root.")
    return root
