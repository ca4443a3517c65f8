"""`ksbuild init [--dry-run] [DIR]`: infer, report, and write the three files, never over an existing one.

Exit codes: 0 written, 1 not enough could be inferred for a working BUILD.yaml (nothing written),
2 a usage error or a file that already exists (nothing written)."""
from __future__ import annotations

import os
import sys

from ksbuild.init import render
from ksbuild.init.infer import CannotInit, infer
from ksbuild.init.report import Report

FILES = ("workspace.yaml", "BUILD.yaml", "dodo.py")
USAGE = """\
usage: ksbuild init [--dry-run] [DIR]

Write workspace.yaml, BUILD.yaml and dodo.py for the kubebuilder-style Go repository in DIR (default:
the current directory), inferred from its go.mod, API packages, committed generated files, config/
kustomizations, chart and Makefile, so that `ksbuild verify` checks its committed derived files.
Prints what it inferred, from which file, and what to add by hand. Never runs the Makefile, never
uses the network, never overwrites a file.

  --dry-run   print the files instead of writing them
  -h, --help  show this help
"""


class Usage(Exception):
    pass


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("ksbuild init: interrupted; nothing was written\n")
        return 130


def _main(argv: list[str]) -> int:
    try:
        dry_run, directory = _arguments(argv)
    except Usage as err:
        sys.stderr.write(f"ksbuild init: {err}\n{USAGE.splitlines()[0]}  (`ksbuild init --help` says more)\n")
        return 2
    if directory is None:
        sys.stdout.write(USAGE)
        return 0
    existing = [name for name in FILES if os.path.lexists(os.path.join(directory, name))]
    if existing and not dry_run:
        sys.stderr.write(f"ksbuild init: {', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in "
                         f"{_shown(directory)}: init never overwrites a file; nothing was written (edit the files by "
                         "hand, or remove them to start again)\n")
        return 2
    report = Report()
    try:
        plan = infer(directory, report)
        files = {"workspace.yaml": render.workspace_yaml(plan), "BUILD.yaml": render.build_yaml(plan),
                 "dodo.py": render.DODO}
    except CannotInit as err:
        _show(directory, report)
        sys.stderr.write(f"ksbuild init: {err}; nothing was written\n")
        return 1
    except OSError as err:
        sys.stderr.write(f"ksbuild init: cannot read {err.filename or directory}: {err.strerror}; "
                         "nothing was written\n")
        return 1
    _show(directory, report)
    if dry_run:
        sys.stdout.write("".join(f"\n--- {name}\n{text}" for name, text in files.items()))
        if existing:
            sys.stdout.write(f"\n(not written: {', '.join(existing)} already here, and init never overwrites)\n")
        return 0
    return _write(directory, files)


def _arguments(argv: list[str]) -> tuple[bool, str | None]:
    """(dry run, directory); directory None for --help."""
    dry_run, positional = False, []
    for arg in argv:
        if arg in ("-h", "--help"):
            return False, None
        if arg == "--dry-run":
            dry_run = True
        elif arg.startswith("-") and arg != "-":
            raise Usage(f"unknown option {arg!r}")
        else:
            positional.append(arg)
    if len(positional) > 1:
        raise Usage(f"one directory at most, not {len(positional)}: {' '.join(positional)}")
    directory = positional[0] if positional else "."
    if not os.path.isdir(directory):
        raise Usage(f"{directory}: not a directory")
    return dry_run, directory


def _write(directory: str, files: dict[str, str]) -> int:
    written = []
    for name, text in files.items():
        path = os.path.join(directory, name)
        try:
            with open(path, "x", encoding="utf-8") as handle:  # "x": a file made meanwhile is never overwritten
                handle.write(text)
        except FileExistsError:
            _remove(directory, written)
            sys.stderr.write(f"ksbuild init: {name} appeared in {_shown(directory)} while init ran: nothing was "
                             "written\n")
            return 2
        except OSError as err:
            _remove(directory, written)
            sys.stderr.write(f"ksbuild init: cannot write {path}: {err.strerror}; nothing was written\n")
            return 1
        written.append(name)
    sys.stdout.write(f"wrote {', '.join(written)}\nnext: review them, commit them, then run `ksbuild verify`\n")
    return 0


def _remove(directory: str, names: list[str]) -> None:
    for name in names:
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _show(directory: str, report: Report) -> None:
    if report.lines:
        sys.stdout.write(f"ksbuild init: in {_shown(directory)}:\n{report.text()}")


def _shown(directory: str) -> str:
    return os.path.abspath(directory)
