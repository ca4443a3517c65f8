"""A Go module proxy on disk (GOPROXY=file://...), serving tiny tool modules written by tests."""
from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

MODULE = "example.test/greet"


def greet_source(message: str) -> str:
    return f'package main\n\nimport "fmt"\n\nfunc main() {{ fmt.Println("{message}") }}\n'


def make_proxy(base: Path, module: str = MODULE, versions: dict[str, str] | None = None) -> str:
    """Write `module` at each version (version -> main.go) in proxy layout; returns the GOPROXY URL."""
    versions = versions or {"v1.0.0": greet_source("greetings from v1.0.0"),
                            "v1.1.0": greet_source("greetings from v1.1.0")}
    root = base / "goproxy"
    versions_dir = root / module / "@v"
    versions_dir.mkdir(parents=True, exist_ok=True)
    go_mod = f"module {module}\n\ngo 1.21\n"
    for version, main in versions.items():
        (versions_dir / f"{version}.info").write_text(json.dumps({"Version": version, "Time": "2026-01-01T00:00:00Z"}))
        (versions_dir / f"{version}.mod").write_text(go_mod)
        with zipfile.ZipFile(versions_dir / f"{version}.zip", "w") as archive:
            archive.writestr(f"{module}@{version}/go.mod", go_mod)
            archive.writestr(f"{module}@{version}/main.go", main)
    (versions_dir / "list").write_text("".join(f"{v}\n" for v in versions))
    return root.as_uri()


def proxy_env(url: str, base: Path) -> dict[str, str]:
    """Environment for a doit run that installs tools from the file proxy into a private store."""
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    return {"GOPROXY": url, "GONOSUMDB": "example.test", "GOFLAGS": "-mod=mod", "GOCACHE": gocache,
            "KSBUILD_TOOLS_DIR": str(base / "tools"), "XDG_CACHE_HOME": str(base / "cache")}
