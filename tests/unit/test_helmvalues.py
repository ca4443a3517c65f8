"""Resolving `{{ .Values.X }}` in a reference against the chart's values file."""
import pytest

from ksbuild.versioning.helmvalues import NoValue, resolve_values

VALUES = "image:\n  tag: \"1.2.3\"\nKUBECTL_VERSION: 1.32.13\n"


def read(path):
    return {"chart/values.yaml": VALUES}.get(path)


def test_values_keys_resolve_with_the_values_line():
    found = resolve_values("quay.io/k/kubectl:{{ .Values.KUBECTL_VERSION }}", "chart/values.yaml", read)
    assert (found.value, found.where) == ("quay.io/k/kubectl:1.32.13", "chart/values.yaml:3")
    nested = resolve_values("v{{- .Values.image.tag -}}", "chart/values.yaml", read)
    assert (nested.value, nested.where) == ("v1.2.3", "chart/values.yaml:2")


def test_defaults_quote_and_what_cannot_be_resolved():
    found = resolve_values('x:{{ .Values.MISSING | default "0.9.0" }}', "chart/values.yaml", read)
    assert (found.value, found.where) == ("x:0.9.0", "")
    assert resolve_values("{{ .Values.image.tag | quote }}", "chart/values.yaml", read).value == "1.2.3"
    with pytest.raises(NoValue, match="chart/values.yaml has no MISSING"):
        resolve_values("{{ .Values.MISSING }}", "chart/values.yaml", read)
    with pytest.raises(NoValue, match=r"\{\{ \.Release\.Name \}\} is not a `\.Values` lookup"):
        resolve_values("{{ .Release.Name }}", "chart/values.yaml", read)
    with pytest.raises(NoValue, match="cannot be read"):
        resolve_values("{{ .Values.X }}", "other/values.yaml", read)
