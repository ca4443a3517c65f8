"""The command line: ksbuild's commands, their options and help, labels, and the exit codes.

Both `ksbuild ARGS` and `doit ARGS` (in a workspace whose dodo.py imports ksbuild.dodo) come here
before doit sees the arguments (cli.main):

- `--help`, `--version`, `COMMAND --help` are ksbuild's; an unknown option of a ksbuild command is
  a one-line error;
- `-q` (quiet) and `--profile FILE` are taken out and passed on in the environment;
- targets are named as BUILD.yaml names them: `//component:target`, `:target` (in the component
  of the current directory), `//component/...`, `//...`, or doit's `component:target`; a near miss
  gets "did you mean";
- exit codes: 0 success, 1 a build failed or a check found problems, 2 a usage or configuration
  error, 130 interrupted.
"""
from __future__ import annotations

import difflib
import os

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DOCS = "README.md in the ksbuild repository (Commands, BUILD.yaml reference)"


def _flag(name: str, help: str) -> dict:  # noqa: A002 (doit's param key)
    return {"name": name.replace("-", "_"), "long": name, "type": bool, "default": False, "help": help}


def _option(name: str, help: str, default: str = "", **extra) -> dict:  # noqa: A002
    return {"name": name.replace("-", "_"), "long": name, "default": default, "help": help, **extra}


PUBLISH_PARAMS = [
    _flag("dry-run", "check everything and print what would be pushed; push nothing"),
    _option("registry", "push every repository under this registry (HOST[:PORT]) instead (references keep their "
                        "names)"),
    _option("out", "the release directory (default .ksbuild/release)"),
]

# name -> (one line, doit params, positional arguments (name, meaning) or None)
COMMANDS: dict[str, tuple[str, list, tuple[str, str] | None]] = {
    "build": ("build every target (the default)", [], None),
    "generate": ("(re)generate every derived file committed to git", [], None),
    "verify": ("check that every derived file and version reference is right, without touching the tree", [
        _flag("worktree", "check the working tree's current contents instead of HEAD"),
        _option("junit", "write a JUnit XML report here"),
        _option("json", "write a JSON report here"),
        _option("patch", "write a patch here that `git apply` turns into the fix"),
    ], None),
    "versions": ("every artifact's version, and every reference with what it says",
                 [_option("json", "also write them as JSON here")], None),
    "explain": ("why targets ran in the last run, and why their cache lookups missed", [],
                ("TARGET...", "targets of the last run (default: all)")),
    "graph": ("print the build graph, or the part around some targets; builds nothing", [
        _option("format", "output format: mermaid (default) or dot", "mermaid",
                choices=(("mermaid", "Mermaid flowchart"), ("dot", "Graphviz digraph"))),
        _flag("deps", "with targets: also what they need, transitively"),
        _flag("rdeps", "with targets: also what needs them, transitively"),
    ], ("TARGET...", "targets to show (default: the whole workspace)")),
    "push": ("push built images, then charts, tagged with their versions",
             [_option("registry", "publish every repository under this registry (HOST[:PORT]) instead")],
             ("TARGET...", "image or chart targets (default: all)")),
    "load": ("load an image (the engine's platform) into the local Docker-API engine", [],
             ("TARGET", "one image target")),
    "release": ("publish every component at a release tag: verify, build, push images then charts",
                PUBLISH_PARAMS, None),
    "publish": ("publish this commit (development versions on an untagged commit)",
                PUBLISH_PARAMS + [_flag("dev", "publish development versions only")], None),
    "report": ("write the last run as an HTML page (critical path, slowest actions, cache hit rate)",
               [_option("out", "where (default .ksbuild/report.html)")], None),
    "tools": ("install the pinned tools and list name, version, digest, path", [], None),
    "cache-gc": ("trim the local action cache to its size limit (oldest use first)", [], None),
}
DOIT_COMMANDS = {
    "list": "list the targets and commands (--all: every target)",
    "info": "show one target's inputs, outputs and status",
    "clean": "remove built outputs git does not track (--all: committed derived files too)",
    "forget": "forget targets' recorded state (they run again)",
    "help": "doit's help on a command or task",
}
GLOBAL_OPTIONS = (("-n N", "run N actions in parallel"), ("-q", "quiet: only failures and the summary line"),
                  ("--profile FILE", "write the run as Chrome trace-event JSON (chrome://tracing, Perfetto)"),
                  ("--help", "this help; `ksbuild COMMAND --help` for one command"),
                  ("--version", "ksbuild's and doit's versions"))
VALUED_OPTIONS = {"-n", "--process", "-P", "--parallel-type", "--format", "--registry", "--out", "--reporter", "-r",
                  "-o", "--output-file", "--verbosity", "-v", "--junit", "--json", "--patch", "-f", "--file", "-d",
                  "--dir", "--db-file", "--backend"}  # their next word is their value, not a target
TARGET_COMMANDS = {"run", "push", "load", "explain", "graph", "info", "clean", "forget"}


class UsageError(Exception):
    """A mistake on the command line: one line, exit 2."""


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("ksbuild")
    except PackageNotFoundError:
        own = "unknown"
    import doit

    return f"ksbuild {own} (doit {'.'.join(map(str, doit.__version__))})\n"


def help_text() -> str:
    lines = ["usage: ksbuild [COMMAND] [TARGET...] [OPTIONS]   (doit ARGS does the same in a workspace)", "",
             "Targets: //component:target, :target (in this component), //component/..., //..., component:target.",
             "", "Commands:"]
    rows = [("(none)", "build the targets named, or every target"), *[(n, c[0]) for n, c in COMMANDS.items()],
            ("init", "write workspace.yaml, BUILD.yaml and dodo.py for a kubebuilder-style repository"),
            *DOIT_COMMANDS.items()]
    lines += [f"  {name:10} {text}" for name, text in rows]
    lines += ["", "Options:"] + [f"  {name:15} {text}" for name, text in GLOBAL_OPTIONS]
    lines += ["", "Exit codes: 0 success, 1 a build failed or a check found problems, 2 usage or configuration "
              "error, 130 interrupted.", f"Docs: {DOCS}."]
    return "\n".join(lines) + "\n"


def command_help(name: str) -> str:
    summary, params, positional = COMMANDS[name]
    usage = f"usage: ksbuild {name}" + (f" {positional[0]}" if positional else "") + (" [OPTIONS]" if params else "")
    lines = [usage, "", summary]
    if positional:
        lines += ["", f"  {positional[0]:22} {positional[1]}"]
    if params:
        lines += ["", "Options:"]
        for param in params:
            value = "" if param.get("type") is bool else " VALUE"
            lines.append(f"  --{param['long'] + value:20} {param['help']}")
    return "\n".join(lines) + "\n"


def split_globals(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Take `-q` and `--profile FILE` out of the arguments; return the rest and the environment they set."""
    rest, env = [], {}
    words = iter(args)
    for word in words:
        if word in ("-q", "--quiet") and (not rest or rest[0] != "list"):
            env["KSBUILD_QUIET"] = "1"
        elif word == "--profile" or word.startswith("--profile="):
            path = word.partition("=")[2] if "=" in word else next(words, "")
            if not path:
                raise UsageError("--profile needs a file name: --profile trace.json")
            env["KSBUILD_PROFILE"] = os.path.abspath(path)
        else:
            rest.append(word)
    return rest, env


def command_of(args: list[str]) -> str:
    """The command the arguments run: a ksbuild or doit command, or `run` (build targets)."""
    first, words = "", iter(args)
    for word in words:
        if word in VALUED_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            first = word
            break
    if first in COMMANDS or first in DOIT_COMMANDS or first in ("dumpdb", "ignore", "strace", "reset-dep",
                                                                 "tabcompletion", "auto"):
        return first
    return "run"


def check_options(command: str, args: list[str]) -> None:
    """An unknown option of a ksbuild command is a one-line error."""
    if command not in COMMANDS:
        return
    known = {f"--{p['long']}" for p in COMMANDS[command][1]}
    for word in args[args.index(command) + 1:] if command in args else ():
        name = word.split("=", 1)[0]
        if name.startswith("--") and name not in known:
            hint = difflib.get_close_matches(name, sorted(known), 1)
            raise UsageError(f"{command}: unknown option {name}" + (f" (did you mean {hint[0]}?)" if hint else "")
                             + f"; `ksbuild {command} --help` lists its options")


def translate_labels(args: list[str], command: str, tasks, components, here: str) -> list[str]:
    """Labels as doit task names; `here` is the component of the current directory ("" outside one).
    Unknown targets are errors with the nearest names."""
    if command not in TARGET_COMMANDS:
        return args
    out, taking_value = [], False
    skip = command if command != "run" else None
    for word in args:
        if taking_value or word.startswith("-") or word == skip:
            out.append(word)
            taking_value = not taking_value and word in VALUED_OPTIONS
            if word == skip:
                skip = None
            continue
        out.extend(_label_tasks(word, tasks, components, here))
    return out


def _label_tasks(word: str, tasks, components, here: str) -> list[str]:
    if word in tasks or word in components:
        return [word]
    if word in ("//...", "//", "..."):
        return ["build"]
    if word.startswith(":"):
        if not here:
            raise UsageError(f"{word}: a label relative to a component, but the current directory is in none; "
                             f"write //COMPONENT{word}")
        word = f"//{here}{word}"
    if word.startswith("//"):
        body = word[2:]
        if body.endswith("/...") or ":" not in body:
            name = body.removesuffix("/...").rstrip("/")
            if name in components:
                return [name]
            raise UsageError(f"{word}: no component {name!r}{_nearest(name, components)}")
        task = body
        if task in tasks:
            return [task]
        raise UsageError(f"{word}: no such target{_nearest(task, tasks)}")
    raise UsageError(f"{word}: no such target or command{_nearest(word, list(tasks) + list(COMMANDS))}")


def _nearest(name: str, choices) -> str:
    found = difflib.get_close_matches(name, sorted(choices), 3, 0.6)
    return f"; did you mean {', '.join(found)}?" if found else ""


def component_here(root: str, cwd: str, components) -> str:
    """The component whose directory holds `cwd` (the innermost), or ""."""
    relative = os.path.relpath(os.path.realpath(cwd), os.path.realpath(root)).replace(os.sep, "/")
    if relative == ".." or relative.startswith("../"):
        return ""
    holding = [c for c in components if c.path in ("", ".") or relative == c.path
               or relative.startswith(c.path + "/")]
    return max(holding, key=lambda c: len(c.path.strip(".")), default=None).name if holding else ""


def exit_code(doit_code: int | None) -> int:
    """doit's codes (0 ok, 1 task failed, 2 task error, 3 before any task ran; None from some of its
    commands) on ksbuild's scheme."""
    if doit_code in (None, 0):
        return EXIT_OK
    return {1: EXIT_FAILED, EXIT_INTERRUPTED: EXIT_INTERRUPTED}.get(doit_code, EXIT_USAGE)
