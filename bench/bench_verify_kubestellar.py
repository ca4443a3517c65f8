"""Benchmark: `doit verify` on a repository the size of the real KubeStellar one (about 1,000 files in
git, 44 of them derived: deepcopy, CRDs, generated clients), warm and cold, against the old approach
(regenerate in place, then `git diff --exit-code`, as hack/verify-codegen.sh does).

    python bench/bench_verify_kubestellar.py [--repeat N]

The repository is made in a temporary directory (removed at the end) from components/kubestellar, as
a one-component workspace (`path: .`) with only its generator targets, two more API types (the real
API's CombinedStatus and CustomTransform) and hand-written filler files; it is generated, committed
and clean. Runs are interleaved (cold verify at most twice); figures are best and median of --repeat
(default 5). Goal: warm verify under 0.5 s. Also timed: warm verify with its scratch checkout in
memory (TMPDIR=/dev/shm), and `doit generate` in a fresh clone on a warm cache. Last, a cProfile of one
warm verify: where its time goes. Python bytecode is cached (in the temporary directory) for every run.
"""
from __future__ import annotations

import argparse
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import Workspace, commit_all, git  # noqa: E402

FILES_IN_GIT = 1000
TOOLS = ("controller-gen", "client-gen", "lister-gen", "informer-gen", "kustomize", "goimports")
API, MODULE = "api/control/v1alpha1", "github.com/kubestellar/kubestellar"
TYPE = '''
// {kind} {doc}
//
// +genclient{markers}
// +kubebuilder:object:root=true
type {kind} struct {{
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
{fields}
}}

// {kind}List is a list of {kind}s.
//
// +kubebuilder:object:root=true
type {kind}List struct {{
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []{kind} `json:"items"`
}}
'''
NEW_TYPES = {  # kind: (doc, markers, fields): two more kinds of the real API
    "CombinedStatus": ("holds one workload object's status, combined across clusters.",
                       "\n// +kubebuilder:resource:scope=Namespaced,shortName=cs",
                       '\t// +optional\n\tResults []NamedStatusCombination `json:"results,omitempty"`'),
    "CustomTransform": ("names fields to remove from objects of one resource before they go out.",
                        "\n// +genclient:nonNamespaced\n// +kubebuilder:resource:scope=Cluster,shortName=ct"
                        "\n// +kubebuilder:subresource:status",
                        '\tSpec   CustomTransformSpec `json:"spec,omitempty"`\n'
                        '\tStatus BindingPolicyStatus `json:"status,omitempty"`')}
HELPER_TYPES = '''
// NamedStatusCombination is the table one StatusCollector produced.
type NamedStatusCombination struct {
	Name        string     `json:"name"`
	ColumnNames []string   `json:"columnNames"`
	Rows        [][]string `json:"rows,omitempty"`
}

// CustomTransformSpec names the resource and the JSONPath of every field to remove.
type CustomTransformSpec struct {
	APIGroup string   `json:"apiGroup"`
	Resource string   `json:"resource"`
	Remove   []string `json:"remove"`
}
'''
GO_FILE = 'package {area}\n\nimport (\n\t"fmt"\n\t"sort"\n\t"strings"\n)\n'
GO_BLOCK = '''
// {name} renders the settings of one {area} rule for a log line, labels sorted.
func {name}(name string, weight int, labels map[string]string) string {{
	keys := make([]string, 0, len(labels))
	for key, value := range labels {{
		keys = append(keys, key+"="+value)
	}}
	sort.Strings(keys)
	return fmt.Sprintf("%s weight=%d labels=%s", name, weight, strings.Join(keys, ","))
}}
'''
AREAS = "abstract transport status filtering jsonpath ocm util kflex metrics cliopts customize routing".split()
PROSE = ("KubeStellar propagates workload objects from a workload description space to the workload "
         "execution clusters that a BindingPolicy selects, and brings their status back. ")
HEADERS, OUT = ["--go-header-file", "hack/boilerplate.generatego.txt"], f"{MODULE}/pkg/generated"
BY_HAND = [  # hack/update-codegen.sh: the tools in place, with the arguments ksbuild gives them
    ["controller-gen", "object:headerFile=hack/boilerplate.go.txt", f"paths=./{API}"],
    ["controller-gen", "crd", "output:crd:artifacts:config=config/crd/bases", "paths=./api/..."],
    ["kustomize", "build", "config/crd", "-o", "pkg/crd/files/crds.yaml"],
    ["client-gen", *HEADERS, "--output-dir", "pkg/generated/clientset", "--output-pkg", f"{OUT}/clientset",
     "--clientset-name", "versioned", "--input-base", f"{MODULE}/api", "--input", "control/v1alpha1"],
    ["lister-gen", *HEADERS, "--output-dir", "pkg/generated/listers", "--output-pkg", f"{OUT}/listers", f"{MODULE}/{API}"],
    ["informer-gen", *HEADERS, "--output-dir", "pkg/generated/informers", "--output-pkg", f"{OUT}/informers",
     "--versioned-clientset-package", f"{OUT}/clientset/versioned", "--listers-package", f"{OUT}/listers",
     f"{MODULE}/{API}"],
    ["goimports", "-w", "-local", "github.com/kubestellar", "pkg/generated"],
]


def make_repository(root: Path) -> tuple[Workspace, int]:
    """The KubeStellar-sized repository at `root`, generated and committed, and its derived-file count."""
    shutil.copytree(REPO / "components/kubestellar", root, ignore=shutil.ignore_patterns(".ksbuild"))
    pins = yaml.safe_load((REPO / "workspace.yaml").read_text())
    workspace = {"components": {"kubestellar": {"path": "."}}, "go": pins["go"],
                 "tools": {name: pins["tools"][name] for name in TOOLS}}
    (root / "workspace.yaml").write_text(yaml.safe_dump(workspace, sort_keys=False))
    targets = yaml.safe_load((root / "BUILD.yaml").read_text())["targets"]  # no images, charts, references
    generators = {name: targets[name] for name in ("deepcopy", "crds", "clients")}
    (root / "BUILD.yaml").write_text(yaml.safe_dump({"targets": generators}, sort_keys=False))
    shutil.copy(REPO / "dodo.py", root / "dodo.py")
    (root / ".gitignore").write_text(".ksbuild/\n")
    (root / API / "status_types.go").write_text('package v1alpha1\n\nimport metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"\n'
        + "".join(TYPE.format(kind=kind, doc=doc, markers=markers, fields=fields)
                  for kind, (doc, markers, fields) in NEW_TYPES.items()) + HELPER_TYPES)
    register = (root / API / "register.go").read_text()
    known = "&StatusCollector{}, &StatusCollectorList{},"
    assert known in register, "register.go changed: add the new kinds to its addKnownTypes by hand"
    (root / API / "register.go").write_text(register.replace(known, known + (
        "\n\t\t&CombinedStatus{}, &CombinedStatusList{},\n\t\t&CustomTransform{}, &CustomTransformList{},")))
    with open(root / "config/crd/bases/kustomization.yaml", "a") as kustomization:
        kustomization.write("- control.kubestellar.io_combinedstatuses.yaml\n"
                            "- control.kubestellar.io_customtransforms.yaml\n")
    ws = Workspace(root)
    git(root, "init", "-q", "-b", "main")
    ws.doit("generate")
    listed = git(root, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    derived = [path for path in listed if path.endswith("zz_generated.deepcopy.go")
               or path.startswith(("pkg/generated/", "pkg/crd/files/", "config/crd/bases/control."))]
    write_filler(root, FILES_IN_GIT - len(listed))
    commit_all(root, "KubeStellar-sized repository")
    assert git(root, "status", "--porcelain") == "", "the generated tree is not clean"
    return ws, len(derived)


def write_filler(root: Path, count: int) -> None:
    """`count` hand-written files of 1-5 KB: Go (standard library only), docs, e2e scripts, samples."""
    rng = random.Random(2026)
    for index in range(count):
        kind, area = index % 10, AREAS[index % len(AREAS)]
        if kind < 6:
            path = f"pkg/{area}/{area}_{index}.go"
            text = GO_FILE.format(area=area) + "".join(
                GO_BLOCK.format(name=f"Describe{index}x{n}", area=area) for n in range(rng.randint(3, 13)))
        elif kind < 8:
            path, text = f"docs/content/{area}-{index}.md", f"# {area} {index}\n\n" + PROSE * rng.randint(6, 30)
        elif kind == 8:
            path = f"test/e2e/{area}-{index}.sh"
            text = "#!/usr/bin/env bash\nset -euo pipefail\n" + "".join(
                f"kubectl --context wds1 wait --for=condition=Ready bindingpolicy/{area}-{n} --timeout=120s\n"
                for n in range(rng.randint(12, 50)))
        else:
            path = f"config/samples/{area}-{index}.yaml"
            text = "".join(f"---\napiVersion: control.kubestellar.io/v1alpha1\nkind: BindingPolicy\nmetadata:\n"
                           f"  name: {area}-{index}-{n}\nspec:\n  clusterSelectors:\n  - matchLabels: {{zone: edge}}\n"
                           f"  downsync:\n  - objectSelectors:\n    - matchLabels: {{app: app-{n}}}\n"
                           for n in range(rng.randint(5, 16)))
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def clone(origin: Path, root: Path, cache: Path) -> Workspace:
    git(origin.parent, "clone", "-q", str(origin), str(root))
    ws = Workspace(root)
    ws.env["KSBUILD_CACHE_DIR"] = str(cache)
    return ws


def tools_by_hand(ws: Workspace, tools: dict[str, str]) -> None:
    for argv in BY_HAND:
        subprocess.run([tools[argv[0]], *argv[1:]], cwd=ws.root, check=True, capture_output=True,
                       env={**ws.run_env(), "GOFLAGS": "-mod=mod", "GOWORK": "off"})


def git_diff(root: Path) -> None:
    """What hack/verify-codegen.sh checks after regenerating: no diff, nothing new."""
    subprocess.run(["git", "diff", "--exit-code", "--quiet"], cwd=root, check=True)
    assert git(root, "status", "--porcelain") == "", f"regenerating left new files in {root}"


PROFILED_VERIFY = """import cProfile, os, runpy, sys
out, sys.argv = sys.argv[1], ["doit", "verify"]
def _exit(code):  # ksbuild ends with os._exit, which would skip writing the profile
    raise SystemExit(code)
os._exit = _exit
cProfile.run("runpy.run_module('doit', run_name='__main__', alter_sys=True)", out)
"""


def profile_warm_verify(ws: Workspace, out: Path) -> None:
    subprocess.run([sys.executable, "-c", PROFILED_VERIFY, str(out)], cwd=ws.root, env=ws.run_env(), check=True,
                   capture_output=True)
    stats = pstats.Stats(str(out)).stats  # (file, line, function) -> (calls, calls, own s, cumulative s, callers)
    print("\none warm verify under cProfile, by phase (cumulative seconds):")
    for phase, function in (("doit loads the workspace's tasks", "all_tasks"), ("verify: all of it", "verify"),
                            ("  materialize the checkout", "committed"), ("  load the checkout's graph", "load_graph"),
                            ("  check derived files", "check"), ("    restore from the cache", "run_target"),
                            ("    compare with the committed files", "_compare"), ("  report", "_report")):
        found = sorted((row[3], key) for key, row in stats.items() if key[2] == function and "ksbuild" in key[0])
        if found:
            seconds, (file, line, _) = found[-1]
            print(f"  {phase:<36} {seconds:6.3f}  {file.split('/ksbuild/')[-1]}:{line}")
    print("\ntop 30 by cumulative time (doit's, runpy's and import machinery's frames left out):")
    print(f"  {'cumulative':>10} {'own':>7} {'calls':>6}  function")
    wrappers = ("<frozen", "<string>", "/doit/", "runpy", "dodo.py", "builtins.exec", "cProfile", "importlib/")
    rows = sorted(((row[3], row[2], row[1], key) for key, row in stats.items()
                   if not any(w in key[0] or w in key[2] for w in wrappers)), reverse=True)
    for cumulative, own, calls, (file, line, function) in rows[:30]:
        print(f"  {cumulative:9.3f}s {own:6.3f}s {calls:6}  {'/'.join(file.split('/')[-2:])}:{line}({function})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ksbuild-bench-verify-ks-"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as on a developer's machine,
    os.environ["PYTHONPYCACHEPREFIX"] = str(base / "pycache")  # but not written into the repository
    try:
        ws, derived = make_repository(base / "kubestellar")
        print(f"repository: {len(git(ws.root, 'ls-files').splitlines())} files in git, {derived} derived "
              "(deepcopy, CRDs in two places, clientset, listers, informers)")
        rows = ("doit verify, warm cache", "doit verify, warm cache, TMPDIR=/dev/shm", "doit verify, cold cache",
                "old: doit generate in a clone, warm cache + git diff",
                "old: doit generate in a clone, cold cache + git diff", "old: the tools run by hand + git diff")
        runs: dict[str, list[float]] = {row: [] for row in rows}
        listing = (line.split() for line in ws.doit("tools").stdout.splitlines())  # name, version, SHA-256, path
        tools = {words[0]: words[-1] for words in listing if words and words[0] in TOOLS}
        in_memory = Workspace(ws.root)  # verify's scratch checkout in memory rather than on disk
        in_memory.env.update(ws.env, TMPDIR="/dev/shm")
        ws.doit("verify")  # untimed: the action cache is warm from the generate
        for index in range(args.repeat):
            cold = Workspace(ws.root)
            cold.env["KSBUILD_CACHE_DIR"] = str(base / f"cold-cache-{index}")
            old_warm = clone(ws.root, base / f"old-warm-{index}", Path(ws.env["KSBUILD_CACHE_DIR"]))
            old_cold = clone(ws.root, base / f"old-cold-{index}", base / f"old-cache-{index}")
            hand = clone(ws.root, base / f"hand-{index}", base / "unused")
            steps = (lambda: ws.doit("verify"), lambda: in_memory.doit("verify"),
                     (lambda: cold.doit("verify")) if index < 2 else None,  # cold: twice at most
                     lambda: (old_warm.doit("generate"), git_diff(old_warm.root)),
                     lambda: (old_cold.doit("generate"), git_diff(old_cold.root)),
                     lambda: (tools_by_hand(hand, tools), git_diff(hand.root)))
            for row, step in zip(rows, steps):
                if step:
                    runs[row].append(timed(step))
        print(f"\n{'':<52} {'best':>7} {'median':>7}  runs")
        for row, seconds in runs.items():
            print(f"{row:<52} {min(seconds):6.2f}s {statistics.median(seconds):6.2f}s  {len(seconds)}")
        warm, medians = statistics.median(runs[rows[0]]), [statistics.median(runs[row]) for row in rows[4:]]
        print(f"\nwarm verify is {medians[0] / warm:.1f}x faster than regenerating with doit and "
              f"{medians[1] / warm:.1f}x faster than the tools by hand (medians). "
              f"Goal: warm verify under 0.5 s: {'met' if warm < 0.5 else 'NOT met'} ({warm:.2f} s).")
        profile_warm_verify(ws, base / "verify.prof")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
