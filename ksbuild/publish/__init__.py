"""Publishing built artifacts: never part of a build; `doit push` and `doit load` call it."""
