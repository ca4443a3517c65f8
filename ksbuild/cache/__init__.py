"""The action cache: keys, stores (local disk, shared directory, Bazel HTTP cache) and the layering
that the executor asks before running an action and fills after."""
