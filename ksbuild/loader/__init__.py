"""Find and validate workspace.yaml and BUILD.yaml files and turn them into a planned graph."""
