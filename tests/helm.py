"""The helm v4 the constellation pins (workspace.yaml `tools: helm`), from the machine's tool store,
where `doit` installs it: tests read published charts with it as a user would."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO


def helm_binary() -> Path | None:
    from ksbuild.loader.workspace import load_workspace
    from ksbuild.toolchain import store
    from ksbuild.toolchain.goenv import GoMissing, go_env

    pin = load_workspace(str(REPO)).tool("helm")
    try:
        go = go_env(pin.go)
    except GoMissing:
        return None
    if store.installed_digest(pin, go) is None:
        return None
    return Path(store.binary_path(pin, go))


def helm(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the pinned helm with its caches and settings under `home`; fail the test on an error."""
    binary = helm_binary()
    assert binary is not None, "helm is not installed: `doit tool:helm` installs the pinned one"
    env = {**os.environ, "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}
    result = subprocess.run([str(binary), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result
