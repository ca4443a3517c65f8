"""Helm charts: deterministic packaging and pushing to OCI registries (the groundwork of a
`helm_chart` rule, which plans these as actions).

    package_chart(chart_dir, destination, version, app_version, source_date_epoch) -> (digest, size)
    push_chart(registry, repository, archive, created=None) -> ChartPushResult   # immutable tags
"""
from ksbuild.charts.oci import HELM_CHART_LAYER, HELM_CONFIG, ChartPushResult, chart_manifest, push_chart
from ksbuild.charts.package import ChartError, PackagedChart, archive_name, package_chart

__all__ = ["HELM_CHART_LAYER", "HELM_CONFIG", "ChartError", "ChartPushResult", "PackagedChart", "archive_name",
           "chart_manifest", "package_chart", "push_chart"]
