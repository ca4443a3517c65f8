"""Benchmark: ksbuild against a hand-written doit dodo.py over the same synthetic graph.

About 1,000 `command` targets over 2,000 input files, in 10 components; every tenth target also
reads the previous target's output, so the graph has chains. Measures, in one run: loading and
validating the workspace, a cold build, a no-op rebuild and a one-input-changed rebuild, for
both, and prints the figures and the ratios.

    python bench/bench_graph.py [--targets 1000] [--jobs 1] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = 10


def make_workspaces(base: Path, targets: int) -> tuple[Path, Path]:
    """Write the ksbuild workspace and the plain-doit twin with identical files."""
    ks, plain = base / "ksbuild", base / "plain"
    per = targets // COMPONENTS
    plain_tasks = []
    components = []
    for c in range(COMPONENTS):
        name = f"comp{c}"
        components.append(f"  {name}:\n    path: components/{name}\n")
        lines = ["targets:\n"]
        for t in range(per):
            srcs = [f"src/t{t}_a.txt", f"src/t{t}_b.txt"]
            deps = [f"out/t{t - 1}.txt"] if t % 10 == 9 else []
            for root in (ks, plain):
                for src in srcs:
                    path = root / "components" / name / src
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(f"{name} {src}\n")
            script = f"cat {' '.join(srcs + deps)} > out/t{t}.txt"
            lines.append(f"  t{t}:\n    rule: command\n    srcs: [{', '.join(srcs + deps)}]\n"
                         f"    outs: [out/t{t}.txt]\n    cmd: [sh, -c, \"{script}\"]\n")
            plain_tasks.append((name, t, srcs + deps, script))
        (ks / "components" / name / "BUILD.yaml").write_text("".join(lines))
    (ks / "workspace.yaml").write_text("components:\n" + "".join(components))
    (ks / "dodo.py").write_text((REPO / "dodo.py").read_text())
    (plain / "dodo.py").write_text(_plain_dodo(plain_tasks))
    an_hour_ago = time.time() - 3600  # sources are older than a build, as in a real checkout
    for root in (ks, plain):
        for path in [root, *root.rglob("*")]:
            os.utime(path, (an_hour_ago, an_hour_ago))
    return ks, plain


def _plain_dodo(tasks) -> str:
    """What a careful hand-written dodo.py for the same graph looks like."""
    rows = ",\n".join(f"    ({name!r}, {t}, {deps!r}, {script!r})" for name, t, deps, script in tasks)
    return f'''import os
DOIT_CONFIG = {{"dep_file": ".doit.sqlite", "backend": "sqlite3"}}
TASKS = [
{rows}
]

def task_comp():
    for name, t, deps, script in TASKS:
        base = os.path.join("components", name)
        yield {{
            "basename": name, "name": f"t{{t}}",
            "actions": [f"mkdir -p {{base}}/out && cd {{base}} && {{script}}"],
            "file_dep": [os.path.join(base, d) for d in deps],
            "targets": [os.path.join(base, "out", f"t{{t}}.txt")],
            "clean": True,
        }}
'''


def run(cwd: Path, *args: str, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - started


def fresh_cache_env(base: Path, name: str, **extra: str) -> dict:
    """A private, empty action cache: a cold build must run every action, not restore it."""
    return {**os.environ, "KSBUILD_CACHE_DIR": str(base / f"cache-{name}"), **extra}


def best(samples: list[float]) -> str:
    return f"{min(samples):7.3f} s (median {statistics.median(samples):.3f})"


def measure(ks: Path, plain: Path, jobs: int, repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    extra = ["-n", str(jobs)] if jobs > 1 else []
    figures = {}
    copy = ks.parent / "ksbuild-copy-sandbox"
    shutil.copytree(ks, copy, symlinks=True)
    figures["cold build (copy sandbox)"] = (
        [run(copy, *extra, env=fresh_cache_env(ks.parent, "copy", KSBUILD_SANDBOX="copy"))], [run(plain, *extra)])
    shutil.rmtree(copy)
    for path in [*plain.rglob("out/*.txt"), *plain.glob(".doit.sqlite*")]:  # plain doit cold again
        path.unlink()
    env = fresh_cache_env(ks.parent, "main")
    figures["cold build"] = ([run(ks, *extra, env=env)], [run(plain, *extra)])
    figures["no-op rebuild"] = ([run(ks, *extra, env=env) for _ in range(repeat)],
                                [run(plain, *extra) for _ in range(repeat)])
    changed: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        for column, root in enumerate((ks, plain)):
            (root / "components/comp3/src/t5_a.txt").write_text(f"changed {i}\n")
            changed[column].append(run(root, *extra, env=env if root == ks else None))
    figures["one input changed"] = changed
    return figures


def load_time(ks: Path, repeat: int) -> list[float]:
    code = ("import time, sys; from ksbuild.loader.graph import load_graph; "
            "t = time.perf_counter(); g = load_graph(sys.argv[1]); "
            "print(time.perf_counter() - t, len(g.plans))")
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, str(ks)], check=True, capture_output=True, text=True)
        seconds, count = out.stdout.split()
        samples.append(float(seconds))
    return samples


def python_floor(repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import doit"], check=True)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-"))
    try:
        ks, plain = make_workspaces(base, options.targets)
        inputs = sum(1 for _ in (ks / "components").rglob("src/*.txt"))
        print(f"synthetic graph: {options.targets} targets, {inputs} input files, {COMPONENTS} components, "
              f"jobs={options.jobs}")
        loads = load_time(ks, options.repeat)
        floor = python_floor(options.repeat)
        print(f"{'load + validate + plan':24} {best(loads)}   (goal < 0.3 s)")
        print(f"{'python + import doit':24} {best(floor)}")
        figures = measure(ks, plain, options.jobs, options.repeat)
        print(f"\n{'':24} {'ksbuild':>30} {'plain doit':>30} {'ratio':>7}")
        for name, (ours, theirs) in figures.items():
            print(f"{name:24} {best(ours):>30} {best(theirs):>30} {min(ours) / min(theirs):6.2f}x")
        noop_ours, noop_theirs = figures["no-op rebuild"]
        ratio = min(noop_ours) / min(noop_theirs)
        print(f"\nno-op: {min(noop_ours):.3f} s, {ratio:.2f}x plain doit "
              f"(goal: within 1.5x and under 0.5 s: {'met' if ratio <= 1.5 and min(noop_ours) < 0.5 else 'NOT met'})")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
