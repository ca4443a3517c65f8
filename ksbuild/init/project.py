"""kubebuilder's PROJECT file: the API resources the project declares, checked against the packages
and CRDs found, so that a resource without committed generated files is reported."""
from __future__ import annotations

import posixpath

from ksbuild.init.gosource import GoPackage
from ksbuild.init.report import Report
from ksbuild.init.repo import Repo, dig


def check(repo: Repo, module: str, packages: dict[str, GoPackage], crd_groups: set[str], report: Report) -> None:
    if not repo.on_disk("PROJECT"):
        return
    docs = repo.yaml_docs("PROJECT")
    project = docs[0] if docs and isinstance(docs[0], dict) else None
    if project is None:
        report.note("PROJECT is not YAML init can read: its resources were not checked")
        return
    resources = [r for r in project.get("resources") or [] if isinstance(r, dict)] \
        if isinstance(project.get("resources"), list) else []
    domain = str(project.get("domain") or "")
    named = []
    for resource in resources:
        group = ".".join(p for p in (str(resource.get("group") or ""), domain) if p)
        named.append(f"{group}/{resource.get('version', '?')} {resource.get('kind', '?')}")
        path = str(resource.get("path") or "")
        directory = posixpath.relpath(path, module) if path.startswith(module + "/") else ""
        if directory and directory not in packages:
            report.note(f"PROJECT names {path}, which holds no Go package here")
        if dig(resource, "api", "crdVersion") and group not in crd_groups:
            report.missing(f"the CRD of {group} {resource.get('kind', '?')} (PROJECT)", "it is not committed: add "
                           "its package to the crd target's `packages` and run `ksbuild generate`")
    if named:
        report.inferred(f"{len(named)} API resource(s): {', '.join(named)}", "PROJECT")
