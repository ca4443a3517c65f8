"""Benchmark: the no-op, ksbuild against plain doit and make, over bench_graph's synthetic graph at
several sizes, interleaved, best of --repeat runs; and the no-op right after a BUILD.yaml edit.

    python bench/bench_noop.py [--targets 1000,5000] [--repeat 5] [--jobs 2]

ksbuild's no-op is answered from the last run's snapshot (ksbuild.fastpath) when nothing changed;
`doit` runs it through doit's import first, `ksbuild` does not import doit at all. Peak memory is
the maximum resident set size of the no-op (from wait4).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_graph import COMPONENTS, make_workspaces  # noqa: E402

KSBUILD = [sys.executable, "-c", "from ksbuild.cli.main import entry; entry()"]
DOIT = [sys.executable, "-m", "doit"]


def makefile(ks: Path, plain: Path) -> None:
    """The same graph for GNU make, beside the plain doit twin's files."""
    rules, outs = [], []
    for build in sorted((ks / "components").glob("*/BUILD.yaml")):
        name = build.parent.name
        for line in build.read_text().splitlines():
            line = line.strip()
            if line.startswith("srcs: ["):
                srcs = [f"components/{name}/{s}" for s in line[len("srcs: ["):-1].split(", ")]
            elif line.startswith("outs: ["):
                out = f"components/{name}/{line[len('outs: ['):-1]}"
                outs.append(out)
                rules.append(f"{out}: {' '.join(srcs)}\n\t@mkdir -p $(@D) && cat $^ > $@\n")
    (plain / "Makefile").write_text("all: " + " ".join(outs) + "\n\n" + "\n".join(rules))


def timed(command: list[str], cwd: Path, env=None) -> tuple[float, int]:
    """(seconds, peak RSS in KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss


def row(name: str, samples: list[tuple[float, int]]) -> tuple[str, float, int]:
    return name, min(s for s, _ in samples), max(m for _, m in samples)


def measure(size: int, base: Path, repeat: int, jobs: int) -> list[tuple[str, float, int]]:
    ks, plain = make_workspaces(base / f"n{size}", size)
    makefile(ks, plain)
    env = {**os.environ, "KSBUILD_CACHE_DIR": str(base / f"cache-{size}")}
    parallel = ["-n", str(jobs)] if jobs > 1 else []
    timed(DOIT + parallel, ks, env)  # built, then one no-op that writes the snapshot after the racy window
    timed(DOIT + parallel, plain)
    timed(["make", "-rs", f"-j{jobs}"], plain)
    time.sleep(2.1)
    timed(KSBUILD, ks, env)
    samples: dict[str, list] = {"ksbuild": [], "doit (ksbuild's dodo.py)": [], "plain doit": [], "make": []}
    for _ in range(repeat):  # interleaved: the machine's noise falls on every column alike
        samples["ksbuild"].append(timed(KSBUILD, ks, env))
        samples["doit (ksbuild's dodo.py)"].append(timed(DOIT, ks, env))
        samples["plain doit"].append(timed(DOIT, plain))
        samples["make"].append(timed(["make", "-rs"], plain))
    rows = [row(f"no-op, {name}", values) for name, values in samples.items()]
    edited = []
    build = ks / "components/comp3/BUILD.yaml"
    for i in range(repeat):
        build.write_text(build.read_text() + f"# edit {i}\n")
        edited.append(timed(KSBUILD, ks, env))
    rows.append(row("one BUILD.yaml edited, ksbuild", edited))
    time.sleep(2.1)
    timed(KSBUILD, ks, env)
    rows.append(row("no-op after the edit, ksbuild", [timed(KSBUILD, ks, env) for _ in range(repeat)]))
    shutil.rmtree(base / f"n{size}", ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-noop-"))
    floor = min(timed([sys.executable, "-c", "pass"], base)[0] for _ in range(options.repeat))
    print(f"python3 -c pass: {floor * 1000:.0f} ms; {COMPONENTS} components, 2 inputs per target")
    try:
        for size in (int(n) for n in options.targets.split(",")):
            rows = measure(size, base, options.repeat, options.jobs)
            plain = next(seconds for name, seconds, _ in rows if name == "no-op, plain doit")
            print(f"\nN = {size:,}")
            for name, seconds, rss in rows:
                print(f"  {name:36} {seconds * 1000:8.0f} ms  {seconds / plain:5.2f}x plain doit  "
                      f"peak RSS {rss / 1024:6.1f} MiB")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
