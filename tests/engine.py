"""A Docker-API engine for tests: podman's service on a private unix socket, started once per test
process (the first time a test asks) and stopped when the process ends."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time

CONTAINERS_CONF = """\
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
"""

_started: dict[str, str] = {}


def engine_env() -> dict[str, str]:
    """DOCKER_HOST and CONTAINERS_CONF of a running podman service ({} without podman)."""
    if _started or shutil.which("podman") is None:
        return dict(_started)
    base = tempfile.mkdtemp(prefix="ksbuild-engine-")
    conf = os.path.join(base, "containers.conf")
    with open(conf, "w") as handle:
        handle.write(CONTAINERS_CONF)
    socket = os.path.join(base, "podman.sock")
    env = {"CONTAINERS_CONF": conf, "DOCKER_HOST": f"unix://{socket}"}
    process = subprocess.Popen(["podman", "system", "service", "--time=0", env["DOCKER_HOST"]],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(_stop, process, base)
    deadline = time.monotonic() + 30
    while not os.path.exists(socket) and time.monotonic() < deadline:
        time.sleep(0.1)
    _started.update(env)
    return dict(env)


def _stop(process: subprocess.Popen, base: str) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(base, ignore_errors=True)
