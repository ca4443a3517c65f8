"""Benchmark: `doit verify` on the bundled constellation, warm and cold, against the old approach
(regenerate everything in place, then `git diff`, as hack/verify-codegen.sh does).

    python bench/bench_verify.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import copy_constellation  # noqa: E402

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-verify-"))
    try:
        origin = copy_constellation(base / "origin")
        origin.write(".gitignore", ".ksbuild/\n")
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "constellation"]):
            subprocess.run(GIT + command, cwd=origin.root, check=True)
        origin.doit("tool")  # installed outside the measurement
        old, cold, warm = [], [], []
        for index in range(args.repeat):
            ws = _clone(origin.root, base / f"clone{index}")
            ws.env["KSBUILD_CACHE_DIR"] = str(base / f"cache{index}")
            old.append(_timed(lambda: (ws.doit("generate"), _git_diff(ws.root))))
            ws = _clone(origin.root, base / f"fresh{index}")
            ws.env["KSBUILD_CACHE_DIR"] = str(base / f"verify-cache{index}")
            cold.append(_timed(lambda: ws.doit("verify")))
            warm.append(_timed(lambda: ws.doit("verify")))
        figures = {"old approach: regenerate in place, git diff": old, "doit verify, cold cache": cold,
                   "doit verify, warm cache": warm}
        for name, runs in figures.items():
            print(f"{name:<46} {statistics.median(runs):6.2f} s   (runs: {', '.join(f'{r:.2f}' for r in runs)})")
        print(f"warm verify vs the old approach               {statistics.median(old) / statistics.median(warm):6.1f}x"
              "   (goal: at least 10x; warm verify under 2 s)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _clone(origin: Path, root: Path):
    from tests.conftest import Workspace

    subprocess.run(GIT + ["clone", "-q", str(origin), str(root)], check=True)
    return Workspace(root)


def _git_diff(root: Path) -> None:
    subprocess.run(["git", "diff", "--exit-code", "--stat"], cwd=root, check=True, capture_output=True)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout == ""


def _timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
