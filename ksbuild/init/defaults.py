"""What init pins when the repository does not say: the versions the bundled constellation pins in its
workspace.yaml (tests/integration/test_init.py fails when the two drift apart)."""
from __future__ import annotations

from ksbuild.init.scripts import PACKAGES

DEFAULT_VERSIONS = {
    "controller-gen": "v0.23.0",
    "client-gen": "v0.37.2",
    "lister-gen": "v0.37.2",
    "informer-gen": "v0.37.2",
    "kustomize": "v5.7.1",
    "goimports": "v0.52.0",
}
DEFAULT_PACKAGES = {tool: PACKAGES[tool] for tool in DEFAULT_VERSIONS}

# Tool builds the constellation pins to an older Go, because current Go no longer compiles them
# (controller-gen v0.14.0's golang.org/x/tools asserts the size of go/token.FileSet, which Go 1.25 changed).
KNOWN_BUILD_GO = {
    ("sigs.k8s.io/controller-tools/cmd/controller-gen", "v0.14.0"): "1.21.13",
}
