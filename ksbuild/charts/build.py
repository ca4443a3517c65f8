"""The `helm_package` builtin of the `helm_chart` rule: the chart's files, stamped, packaged.

argv: the JSON spec the rule planned. In the sandbox: every chart file is copied into a staging
directory (outside the sandbox), the stamped references of each (versioning.stamp) replaced by this run's versions, and
`image` references to images built here given their digests (read from the images' layouts), OCI
dependencies vendored into charts/ at their locked digests (ksbuild.charts.deps); then
`package_chart` writes OUT/NAME-TAG.tgz with Chart.yaml's version the chart's tag and appVersion
its image's tag, every entry dated at the commit's time.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile


def helm_package(cwd: str, argv: tuple[str, ...]) -> None:
    from ksbuild.images.layout import open_layout
    from ksbuild.images.oci import ImageError
    from ksbuild.versioning.stamp import read_versions

    spec = json.loads(argv[0])
    versions = read_versions(cwd, spec["versions"])
    try:
        digests = {artifact: open_layout(os.path.join(cwd, layout)).root.digest
                   for artifact, layout in spec["images"].items()}
    except ImageError as err:
        raise ValueError(f"the chart's image is not a readable layout: {err}") from None
    with tempfile.TemporaryDirectory(prefix="ksbuild-chart-") as scratch:
        _package(cwd, spec, versions, digests, os.path.join(scratch, "chart"))


def _package(cwd: str, spec: dict, versions: dict, digests: dict, staging: str) -> None:
    from ksbuild.charts.package import ChartError, package_chart
    from ksbuild.versioning.stamp import stamp_text

    chart = spec["chart"]
    for path in spec["files"]:
        destination = os.path.join(staging, path[len(chart) + 1:])
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        if path not in spec["stamps"]:
            shutil.copyfile(os.path.join(cwd, path), destination)
            shutil.copymode(os.path.join(cwd, path), destination)
            continue
        with open(os.path.join(cwd, path), encoding="utf-8") as handle:
            text = handle.read()
        with open(destination, "w", encoding="utf-8") as handle:
            handle.write(stamp_text(text, spec["stamps"][path], versions, path, digests))
    if spec.get("dependencies"):
        from ksbuild.charts.deps import vendor
        from ksbuild.toolchain import cache_home

        for dep in spec["dependencies"]:
            try:
                vendor(dep, os.path.join(cache_home(), "images"), os.path.join(staging, "charts"))
            except ChartError as err:
                raise ValueError(str(err)) from None
    record = versions[spec["chart_artifact"]]
    image = spec["image_artifact"]
    version = spec["chart_prefix"] + record["version"]
    app_version = spec["image_prefix"] + versions[image]["version"] if image else version
    try:
        package_chart(staging, os.path.join(cwd, spec["out"]), version, app_version,
                      int(record.get("commit_time") or 0))
    except ChartError as err:
        raise ValueError(str(err)) from None
