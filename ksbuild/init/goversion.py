"""The Go release workspace.yaml pins: the machine's Go when it is new enough for go.mod's `go` line (it
builds the pinned tools without fetching anything, and the newest generators need a new Go), else
go.mod's `toolchain`, else its `go` line."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile

from ksbuild.init.gomod import GoMod
from ksbuild.init.report import Report


def choose(gomod: GoMod, report: Report) -> str:
    """The release to pin, or '' to leave `go:` out (the machine's Go)."""
    machine = machine_go()
    if machine and _key(machine) >= _key(gomod.go or "0"):
        asked = f"; go.mod:{gomod.go_line} asks for go {gomod.go}" if gomod.go else ""
        report.inferred(f"go {machine}", f"the machine's Go{asked}")
        if gomod.toolchain and gomod.toolchain != machine:
            report.note(f"go.mod names toolchain go{gomod.toolchain}: pin `go: \"{gomod.toolchain}\"` instead if "
                        "your generators must run with it")
        return machine
    if gomod.toolchain and _release(gomod.toolchain):
        report.inferred(f"go {gomod.toolchain}", f"go.mod's toolchain line; the machine's Go is {machine or 'missing'}")
        return gomod.toolchain
    if gomod.go and _release(gomod.go):
        report.inferred(f"go {gomod.go}", f"go.mod:{gomod.go_line}; the machine's Go is {machine or 'missing'}")
        return gomod.go
    report.missing("the Go release", "no Go on PATH new enough for go.mod, which names no full release: add "
                   "`go: \"1.X.Y\"` to workspace.yaml")
    return ""


def machine_go() -> str:
    """`go env GOVERSION` without the 'go' prefix, run outside any module so that no go.mod makes Go
    switch toolchains (or download one); '' when Go is missing."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOWORK")}
    env["GOTOOLCHAIN"] = "local"
    try:
        with tempfile.TemporaryDirectory() as empty:
            result = subprocess.run(["go", "env", "GOVERSION"], cwd=empty, env=env, capture_output=True, text=True,
                                    timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    version = result.stdout.strip().removeprefix("go")
    return version if result.returncode == 0 and _release(version) else ""


def _release(version: str) -> bool:
    """A full release such as 1.26.8 (what Go can fetch), not 1.26 or a development build."""
    return re.fullmatch(r"1\.\d+\.\d+", version) is not None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3]) or (0,)
