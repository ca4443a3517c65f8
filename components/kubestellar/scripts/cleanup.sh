#!/usr/bin/env bash
# Removes KubeStellar's objects from a WDS, with the same kubectl image the chart's clean-up job runs.
set -euo pipefail
context="${1:?usage: cleanup.sh KUBECONTEXT}"
kubectl --context "$context" run ks-cleanup --rm -i --restart=Never \
  --image=quay.io/kubestellar/kubectl:1.32.13 -- delete bindingpolicies.control.kubestellar.io --all
