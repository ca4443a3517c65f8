"""Benchmark: ksbuild against plain doit and make over bench_graph's synthetic graph at several sizes,
interleaved, best of --repeat runs: the no-op, one input edited, one BUILD.yaml edited (a comment,
then one target's command), the no-op right after, and a cold build (fresh action cache, the strict
sandbox; best of --cold-repeat at N <= 1,000, and again right after deleting the last build's files);
then where a no-op's time goes and, from a profiled cold build of its own, where one executed
action's time goes, by phase.

    python bench/bench_speed.py [--targets 1000,5000,20000] [--repeat 5] [--no-cold] [--cold-repeat 3]

`ksbuild` answers a no-op from the last run's snapshot (ksbuild.fastpath) without importing doit; an
edit re-plans the component it touches (loader.replan) and hands doit only the targets it may have
changed. Peak memory is the maximum resident set size (GNU time's) of the run whose time is shown.
Every run may cache bytecode (PYTHONDONTWRITEBYTECODE is dropped), as a user's Python does.
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
MAKE = ["make", "-rs"]


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
    """(seconds, peak RSS in KiB). GNU time starts the command: a child forked from this large process
    would count this process's memory as its own until it execs (Linux keeps the old image's peak)."""
    env = {k: v for k, v in (env or os.environ).items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        process = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, *command], cwd=cwd, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed in {cwd}: {process.stderr.decode()[-2000:]}")
        return seconds, int(peak.read().split()[-1])


class Table:
    def __init__(self):
        self.rows: dict[str, dict[str, list[tuple[float, int]]]] = {}

    def add(self, row: str, column: str, sample: tuple[float, int]) -> None:
        self.rows.setdefault(row, {}).setdefault(column, []).append(sample)

    def print(self, size: int) -> None:
        print(f"\nN = {size:,}            {'ksbuild':>22} {'plain doit':>22} {'make':>10}   ksbuild / plain doit")
        noop = min(s for s, _ in self.rows["no-op"]["plain doit"])
        for row, columns in self.rows.items():
            best = {column: min(s for s, _ in samples) for column, samples in columns.items()}
            rss = {column: min(samples)[1] / 1024 for column, samples in columns.items()}  # of the best run
            plain = f"{_ms(best['plain doit'])} {rss['plain doit']:5.0f} MiB" if "plain doit" in best else "—"
            cells = f"{plain:>22}{_ms(best['make']) if 'make' in best else '—':>12}"
            base = best.get("plain doit", noop)
            against = "" if "plain doit" in best else " (its no-op)"
            print(f"  {row:30} {_ms(best['ksbuild']):>10} {rss['ksbuild']:5.0f} MiB{cells}   "
                  f"{best['ksbuild'] / base:5.2f}x{against}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def measure(size: int, base: Path, repeat: int, cold: bool, cold_repeat: int = 3) -> Table:
    ks, plain = make_workspaces(base / f"n{size}", size)
    makefile(ks, plain)
    cache = base / f"cache-{size}"
    env = {**os.environ, "KSBUILD_CACHE_DIR": str(cache)}
    table = Table()
    if cold:  # interleaved, best of cold_repeat (1 above 1,000 targets: minutes at 20,000)
        for _ in range(cold_repeat if size <= 1000 else 1):
            _from_nothing(ks, plain, cache, base)
            table.add("cold build", "ksbuild", timed(KSBUILD, ks, env))
            table.add("cold build", "plain doit", timed(DOIT, plain))
            _aside(base, *plain.glob("components/*/out"))  # make builds them again, from nothing
            table.add("cold build", "make", timed(MAKE, plain))
        if size <= 1000:  # where an action's time goes: a run of its own, the profile costs time too
            _from_nothing(ks, plain, cache, base)
            timed(KSBUILD + ["--profile", str(base / "cold.trace")], ks, env)
            _action_phases(ks, size)
            for _ in range(cold_repeat):  # the same, right after deleting the last build's files (_from_nothing)
                _from_nothing(ks, plain, cache, base, delete=True)
                table.add("cold build after rm -rf", "ksbuild", timed(KSBUILD, ks, env))
                table.add("cold build after rm -rf", "plain doit", timed(DOIT, plain))
    else:
        timed(KSBUILD, ks, env), timed(DOIT, plain), timed(MAKE, plain)
    time.sleep(2.1)  # past the racy window: the next run writes the plan cache and the snapshot
    timed(KSBUILD, ks, env)
    for _ in range(repeat):  # interleaved: the machine's noise falls on every column alike
        table.add("no-op", "ksbuild", timed(KSBUILD, ks, env))
        table.add("no-op", "plain doit", timed(DOIT, plain))
        table.add("no-op", "make", timed(MAKE, plain))
    for i in range(repeat):
        for column, root, command in (("ksbuild", ks, KSBUILD), ("plain doit", plain, DOIT), ("make", plain, MAKE)):
            (root / "components/comp3/src/t5_a.txt").write_text(f"changed {i} {column}\n")
            table.add("one input edited", column, timed(command, root, env))
    build = ks / "components/comp3/BUILD.yaml"
    for i in range(repeat):
        build.write_text(build.read_text() + f"# edit {i}\n")
        table.add("BUILD.yaml: a comment", "ksbuild", timed(KSBUILD, ks, env))
    original = build.read_text()
    for i in range(repeat):  # a new command each time: the target runs (no cache hit)
        build.write_text(original.replace("src/t7_b.txt > out/t7.txt", f"src/t7_b.txt > out/t7.txt && : {i}", 1))
        table.add("BUILD.yaml: a command (1 runs)", "ksbuild", timed(KSBUILD, ks, env))
    time.sleep(2.1)
    timed(KSBUILD, ks, env)
    for _ in range(repeat):
        table.add("no-op after the edits", "ksbuild", timed(KSBUILD, ks, env))
    _noop_phases(ks, env)
    _aside(base, base / f"n{size}", cache)
    return table


def _from_nothing(ks: Path, plain: Path, cache: Path, base: Path, delete: bool = False) -> None:
    """Both workspaces as after a fresh clone: no outputs, no state, an empty action cache. What the
    last build left is moved aside, not deleted (unless `delete`): for a minute after thousands of
    files are deleted, ext4 makes every new file skip the inodes just freed (`recently_deleted`, a
    tenth of a cold build's samples here), which a build after a fresh clone never meets, and which
    costs a tool in proportion to the files it creates. The trash goes when every timing is done."""
    leftovers = [*ks.glob("components/*/out"), *plain.glob("components/*/out"), ks / ".ksbuild", cache,
                 *plain.glob(".doit.sqlite*")]
    if delete:
        for path in leftovers:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    else:
        _aside(base, *leftovers)


def _aside(base: Path, *paths: Path) -> None:
    trash = base / "trash"
    trash.mkdir(exist_ok=True)
    for path in paths:
        if path.exists():
            path.rename(trash / f"{time.monotonic_ns()}-{path.name}")


def _action_phases(ks: Path, size: int) -> None:
    """One executed action, by phase, from the cold build's profile (ksbuild.profile)."""
    from ksbuild.profile.analysis import load_run, phase_totals

    run = load_run(str(ks))
    wall = run.head["seconds"]
    totals = phase_totals(run)
    per_action = {t["phase"]: t["seconds"] / max(t["count"], 1) * 1000 for t in totals}
    inside = sum(per_action.values())
    print(f"  cold build at N = {size:,}: {wall / size * 1000:.2f} ms per target; one action by phase: "
          + ", ".join(f"{name} {ms:.2f}" for name, ms in per_action.items())
          + f" ms; doit, the reporter and state: {wall / size * 1000 - inside:.2f} ms")


NOOP_PHASES = """
import os, sys, time
started = time.perf_counter()
from ksbuild import fastpath
imported = time.perf_counter()
data = fastpath._load(os.getcwd())
loaded = time.perf_counter()
changed = [e for e in data["entries"] if fastpath._signature(e[0]) != e[1]]
statted = time.perf_counter()
assert not changed and data["key"] == fastpath._key(os.getcwd(), os.getcwd(), [])
keyed = time.perf_counter()
print(f"import {1000 * (imported - started):.1f} ms, read the snapshot {1000 * (loaded - imported):.1f} ms, "
      f"stat {len(data['entries']):,} files {1000 * (statted - loaded):.1f} ms, key (environment, ksbuild's code) "
      f"{1000 * (keyed - statted):.1f} ms")
"""


def _noop_phases(ks: Path, env: dict) -> None:
    floor = min(timed([sys.executable, "-c", "pass"], ks)[0] for _ in range(5))
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", NOOP_PHASES], cwd=ks, env=env, capture_output=True, text=True)
    print(f"  no-op by phase: python starting {floor * 1000:.0f} ms, {out.stdout.strip() or out.stderr[-300:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="1000,5000,20000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-cold", action="store_true", help="build once untimed instead of timing cold builds")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold builds at N <= 1,000 (one above)")
    options = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-speed-"))
    floor = min(timed([sys.executable, "-c", "pass"], base)[0] for _ in range(options.repeat))
    print(f"python3 -c pass: {floor * 1000:.0f} ms; {COMPONENTS} components, 2 inputs per target; best of "
          f"{options.repeat}; peak RSS of the run shown")
    try:
        for size in (int(n) for n in options.targets.split(",")):
            measure(size, base, options.repeat, not options.no_cold, options.cold_repeat).print(size)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
