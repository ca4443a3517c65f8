#!/usr/bin/env bash
# Installs the OCM status addon into an ITS (what KubeStellar's user-facing scripts do).
# The chart version is stamped by ksbuild from ocm-status-addon's tags: never edit it by hand.
set -euo pipefail
context="${1:?usage: install-status-addon.sh KUBECONTEXT}"
helm upgrade --install status-addon oci://ghcr.io/kubestellar/ocm-status-addon-chart \
  --version vKSBUILD_VERSION \
  --kube-context "$context" --namespace open-cluster-management --create-namespace
