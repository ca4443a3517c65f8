"""Versions from git tags, the artifacts BUILD.yaml files declare, and the references between them:
resolved, stamped into build outputs and checked. Git and time enter the build only here."""
