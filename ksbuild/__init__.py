"""ksbuild: a hermetic, content-addressed build graph for multi-repo Kubernetes projects, on doit.

Importing this package has no side effects; `ksbuild.dodo` is what a workspace's dodo.py imports.
"""
