"""Benchmark: the bundled constellation's derived files, made by the real pinned tools.

Measures, in one run, from a copy of the constellation at an unrelated path:
  - installing every pinned tool into an empty tool store with an empty Go build cache
    (the Go module cache is the machine's: downloads are the proxy's speed, not ours);
  - a cold `doit generate` (no build record) with the tools installed;
  - a no-op `doit generate`, and plain `doit list` for the cost of starting Python and doit.

    python bench/bench_generate.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import copy_constellation  # noqa: E402


def run(root: Path, env: dict, *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "doit", *args], cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"doit {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def executed(root: Path) -> int:
    return json.loads((root / ".ksbuild/last-run.json").read_text())["counts"]["executed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-"))
    try:
        env = {**os.environ, "KSBUILD_TOOLS_DIR": str(base / "tools"), "GOCACHE": str(base / "gocache"),
               "XDG_CACHE_HOME": str(base / "cache")}
        first = base / "checkout"
        copy_constellation(first)
        install = run(first, env, "tool")
        print(f"install 5 pinned tools (empty store, empty Go build cache)   {install:7.1f} s")

        colds, noops, starts = [], [], []
        for index in range(args.repeat):
            root = base / f"cold{index}"
            copy_constellation(root)
            fresh = {**env, "KSBUILD_CACHE_DIR": str(base / f"action-cache{index}")}  # no restores: tools run
            colds.append(run(root, fresh, "generate"))
            assert executed(root) == 7, "every derived-file target runs in a fresh checkout"
            noops.append(run(root, fresh, "generate"))
            assert executed(root) == 0
            starts.append(run(root, fresh, "list"))
        print(f"cold doit generate (7 targets, tools installed)            {statistics.median(colds):7.1f} s"
              f"   (runs: {', '.join(f'{s:.1f}' for s in colds)})")
        print(f"no-op doit generate                                        {statistics.median(noops):7.2f} s")
        print(f"doit list (starting Python, doit and ksbuild)               {statistics.median(starts):7.2f} s")
        print(f"no-op / start ratio                                         {statistics.median(noops) / statistics.median(starts):7.2f}x")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
