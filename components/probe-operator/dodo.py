from ksbuild.dodo import *  # noqa: F401,F403  (workspace.yaml and BUILD.yaml files say the rest)
