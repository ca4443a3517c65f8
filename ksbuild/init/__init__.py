"""`ksbuild init`: write workspace.yaml, BUILD.yaml and dodo.py for a kubebuilder-style Go repository,
inferred from the files it holds, so that `ksbuild verify` checks its committed derived files."""
from ksbuild.init.command import main

__all__ = ["main"]
