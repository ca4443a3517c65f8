"""Benchmark: a cold build of the bundled constellation, with an empty cache and with a warm remote.

Each run is a fresh copy (no build record, an empty local cache); the remote is a real nginx with
WebDAV on 127.0.0.1, the tools are installed beforehand. Prints both times, the ratio, and how many
actions ran in the warm case (the goal: none).

    python bench/bench_cache.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import copy_constellation  # noqa: E402
from tests.servers import nginx_webdav  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-cache-"))
    try:
        copy_constellation(base / "tools").doit("tool")  # installs outside the measurement
        with nginx_webdav(base / "nginx") as server:
            cold, warm, ran = [], [], []
            for index in range(args.repeat):
                empty = copy_constellation(base / f"empty{index}" / "ws")
                empty.env["KSBUILD_REMOTE_CACHE"] = (base / f"unused-remote{index}").as_uri()
                cold.append(_timed(empty))
                assert len(empty.executed()) == 7
                if index == 0:  # warm the remote once
                    writer = copy_constellation(base / "writer" / "ws")
                    writer.env["KSBUILD_REMOTE_CACHE"] = server.url
                    writer.doit("generate")
                reader = copy_constellation(base / f"reader{index}" / "ws")
                reader.env["KSBUILD_REMOTE_CACHE"] = server.url
                warm.append(_timed(reader))
                ran.append(len(reader.executed()))
        cold_s, warm_s = statistics.median(cold), statistics.median(warm)
        print(f"cold build, empty cache     {cold_s:6.2f} s   (runs: {', '.join(f'{s:.2f}' for s in cold)})")
        print(f"cold build, warm remote     {warm_s:6.2f} s   (runs: {', '.join(f'{s:.2f}' for s in warm)})")
        print(f"ratio                       {cold_s / warm_s:6.1f}x   (goal: at least 10x)")
        print(f"actions run with a warm remote: {max(ran)} (goal: 0)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _timed(ws) -> float:
    started = time.perf_counter()
    ws.doit("generate")
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
