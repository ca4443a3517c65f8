"""Actions of ksbuild's own tasks: the graph, the tool table and tool installs."""
from __future__ import annotations

import sys

from ksbuild.model import ToolPin


def show_graph(root: str, format: str, deps: bool, rdeps: bool, targets: list[str]):  # noqa: A002 (by name)
    """`doit graph [TARGET...] [--deps] [--rdeps] [--format mermaid|dot]`: builds nothing."""
    from ksbuild.cli import graphview
    from ksbuild.cli.tasks import graph_for

    graph = graph_for(root)
    words, format = _option_after(list(targets), "--format", format)  # doit passes what follows as targets
    deps, rdeps = deps or "--deps" in words, rdeps or "--rdeps" in words
    words = [word for word in words if word not in ("--deps", "--rdeps")]
    if format not in graphview.FORMATS:
        from doit.exceptions import TaskError

        return TaskError(f"graph: --format {format!r}: choose mermaid or dot")
    if words:
        graph = graphview.around(graph, words, deps, rdeps)
    sys.stdout.write(graphview.FORMATS[format](graph))
    return None


def write_report(root: str, out: str):
    """`doit report [--out FILE]`: the last run as a static HTML page."""
    from ksbuild.profile.report import report_command

    return report_command(root, out)


def install_tool(pin: ToolPin):
    from doit.exceptions import TaskFailed

    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    try:
        go = go_env(pin.go)
    except GoMissing as err:
        return TaskFailed(f"tool {pin.name!r} ({pin}): cannot install it: {err}.\n"
                          "  ksbuild installs pinned tools with `go install`: install Go and put `go` on PATH.")
    sys.stdout.write(f"ksbuild: installing {pin.name} {pin.version} into the machine's tool store (once per "
                     "machine; go install can take minutes)\n")
    sys.stdout.flush()
    try:
        store.install(pin, go)
    except store.ToolInstallError as err:
        return TaskFailed(str(err))
    return {"digest": store.installed_digest(pin, go)}


def show_tools(root: str) -> None:
    from ksbuild.cli.tasks import graph_for
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import go_env

    rows = [("name", "version", "sha256", "path")]
    for pin in graph_for(root).workspace.all_tools:
        go = go_env(pin.go)
        rows.append((pin.task.removeprefix("tool:"), pin.version + (f" (go{pin.go})" if pin.go else ""),
                     store.installed_digest(pin, go) or "not installed", store.binary_path(pin, go)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3] + "\n")
    sys.stdout.write(f"(in {store.store_dir()})\n")


def collect_garbage(config) -> None:
    from ksbuild.cache.gc import collect

    removed, freed, kept = collect(config.local_dir, config.max_size)
    sys.stdout.write(f"ksbuild: cache-gc: removed {removed} file(s), {freed / 2**20:.1f} MiB; "
                     f"{kept / 2**20:.1f} MiB kept in {config.local_dir} (limit {config.max_size / 2**20:.0f} MiB)\n")


def explain_tasks(root: str, tasks: list[str]) -> None:
    """`doit explain [TASK...]`: the last run's status, reason and cache outcome, and the key of each
    action as recorded then."""
    import os

    from ksbuild.cache.digests import stat_cache_for
    from ksbuild.files import read_json, set_aside
    from ksbuild.cli.reporter import RECORD_FILE

    path = os.path.join(root, RECORD_FILE)
    run = read_json(path)  # garbage is set aside, with a warning
    listed = run.get("tasks")
    if run and not (isinstance(listed, list) and all(isinstance(r, dict) and isinstance(r.get("task"), str)
                                                      and isinstance(r.get("status"), str) for r in listed)):
        set_aside(path, "not a run record")
        run = {}
    if not run:
        sys.stdout.write("ksbuild: no run recorded yet (.ksbuild/last-run.json): run doit first\n")
        return
    records = {r["task"]: r for r in listed}
    for task in tasks or sorted(records):
        record = records.get(task)
        if record is None:
            sys.stdout.write(f"{task}: not part of the last run\n")
            continue
        how = record["status"] + (f" ({record['cache']})" if record.get("cache") else "")
        lines = [f"{task}: {how}" + (f", because {record['reason']}" if record.get("reason") else "")]
        if record.get("miss"):
            lines.append(f"  cache: {record['miss']}")
        actions = stat_cache_for(root).key_record(task).get("actions")
        for index, action in enumerate(actions if isinstance(actions, list) else []):
            if isinstance(action, dict) and isinstance(action.get("key"), str):
                lines.append(f"  action {index + 1}: key {action['key'][:16]}")
        sys.stdout.write("\n".join(lines) + "\n")


def show_versions(root: str, json: str):  # noqa: A002 (doit passes params by name)
    """`doit versions [--json FILE]`: every artifact with its version, every reference with what it
    says and should say; fails (exit 1) when a reference is wrong."""
    from doit.exceptions import TaskError, TaskFailed

    from ksbuild.cli.tasks import component_versions, graph_for
    from ksbuild.versioning import report
    from ksbuild.versioning.check import check_references

    graph = graph_for(root)
    if not graph.artifacts:
        sys.stdout.write("ksbuild: no artifacts declared (BUILD.yaml `artifacts:`)\n")
        return None
    versions = component_versions(graph)
    checks = check_references(root, graph, versions)
    sys.stdout.write(report.text(graph, versions, checks))
    if json:
        try:
            with open(json, "w", encoding="utf-8") as handle:
                handle.write(report.as_json(graph, versions, checks))
        except OSError as err:
            return TaskError(f"versions: cannot write {json}: {err.strerror}")
    wrong = sum(1 for check in checks if not check.ok)
    return TaskFailed(f"versions: {wrong} reference(s) wrong") if wrong else None


def push(root: str, registry: str, targets: list[str]):
    """`doit push [TARGET...] [--registry HOST[:PORT]]`: every built image, then every chart (or those
    named) to its artifact's repository, tagged with its version; KSBUILD_PUSH_REGISTRY overrides the
    registry. A tag that already names other content is refused before anything is pushed."""
    import os

    from doit.exceptions import TaskFailed

    from ksbuild.charts import ChartError
    from ksbuild.cli.tasks import component_versions, graph_for
    from ksbuild.images.oci import ImageError
    from ksbuild.publish import PublishError
    from ksbuild.publish.plan import plan_target_pushes
    from ksbuild.publish.release import preflight, push_all
    from ksbuild.registry.errors import RegistryError

    graph = graph_for(root)
    targets, registry = _option_after(list(targets), "--registry", registry)
    override = registry or os.environ.get("KSBUILD_PUSH_REGISTRY", "")
    try:
        plan = plan_target_pushes(graph, component_versions(graph), list(targets), override)
        statuses = push_all(preflight(plan), lambda line: sys.stdout.write(f"ksbuild: {line}\n"))
    except (PublishError, RegistryError, ImageError, ChartError) as err:
        return TaskFailed(f"push: {err}\n  Nothing was tagged for the artifact that failed.")
    sys.stdout.write(f"ksbuild: pushed {statuses.count('pushed')}, unchanged {statuses.count('unchanged')}\n")
    return None


def _option_after(words: list[str], name: str, value: str) -> tuple[list[str], str]:
    """`--name VALUE` or `--name=VALUE` given after the targets (doit takes it as one of them)."""
    rest = []
    iterator = iter(words)
    for word in iterator:
        if word == name:
            value = next(iterator, value)
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1]
        else:
            rest.append(word)
    return rest, value


def load(root: str, targets: list[str]):
    """`doit load TARGET`: the image, for the engine's platform, into the local Docker-API engine."""
    from doit.exceptions import TaskFailed

    from ksbuild.cli.tasks import component_versions, graph_for
    from ksbuild.publish import PublishError
    from ksbuild.publish.engine import EngineError, load_image
    from ksbuild.publish.plan import plan_target_pushes

    if len(targets) != 1:
        return TaskFailed("load: name one image target, e.g. `doit load kubestellar:controller-manager-image`")
    graph = graph_for(root)
    try:
        plan = plan_target_pushes(graph, component_versions(graph), list(targets), kinds=("image",))
        if plan.problems:
            raise PublishError(plan.problems[0])
        (image,) = plan.pushes
        loaded = load_image(image.source, image.reference)
    except (PublishError, EngineError) as err:
        return TaskFailed(f"load: {err}")
    sys.stdout.write(f"ksbuild: loaded {loaded}\n")
    return None


def publish_gate(root: str, mode: str):
    """The first step of `doit release` / `doit publish`: refuse a dirty tree, or nothing to publish,
    before anything is verified or built."""
    from doit.exceptions import TaskFailed

    from ksbuild.cli.tasks import component_versions, graph_for
    from ksbuild.publish import PublishError
    from ksbuild.publish.run import gate

    try:
        components = gate(root, component_versions(graph_for(root)), mode)
    except PublishError as err:
        return TaskFailed(f"{'release' if mode == 'release' else 'publish'}: {err}")
    sys.stdout.write(f"ksbuild: publishing {', '.join(components)}\n")
    return None


def publish(root: str, mode: str, dev: bool, dry_run: bool, registry: str, out: str):
    """`doit release` / `doit publish [--dev]`: after the gate, verify and the build, push every artifact
    of the components in scope and write the release directory (see ksbuild.publish.run)."""
    import os

    from doit.exceptions import TaskFailed

    from ksbuild.charts import ChartError
    from ksbuild.cli.tasks import component_versions, graph_for
    from ksbuild.images.oci import ImageError
    from ksbuild.publish import PublishError
    from ksbuild.publish.run import run
    from ksbuild.registry.errors import RegistryError

    graph = graph_for(root)
    override = registry or os.environ.get("KSBUILD_PUSH_REGISTRY", "")
    what = "release" if mode == "release" else "publish"
    try:
        manifest = run(graph, component_versions(graph), "dev" if dev else mode, override, dry_run, out,
                       lambda line: sys.stdout.write(f"ksbuild: {line}\n"))
    except (PublishError, RegistryError, ImageError, ChartError) as err:
        return TaskFailed(f"{what}: {err}")
    except OSError as err:
        return TaskFailed(f"{what}: cannot write the release directory: {err}")
    sys.stdout.write(f"ksbuild: {'dry run: nothing pushed; ' if dry_run else ''}release manifest {manifest}\n")
    return None
