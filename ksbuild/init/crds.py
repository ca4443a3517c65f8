"""The `crd` target: the directory of committed CRDs controller-gen made (and a second place for them:
identical copies, or one stream rendered by the CRD kustomization), and the ClusterRole of the
`+kubebuilder:rbac` markers."""
from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass

from ksbuild.init.gosource import GoPackage
from ksbuild.init.plan import Plan, Target
from ksbuild.init.report import Report
from ksbuild.init.repo import Repo, dig, name_of
from ksbuild.init.scripts import Scripts, controller_gen_option

CRD_DIR, RBAC_DIR = "config/crd/bases", "config/rbac"
ANNOTATION = "controller-gen.kubebuilder.io/version"
KUSTOMIZATION = "kustomization.yaml"
HARMLESS_CRD_OPTIONS = ("crd:crdVersions=v1",)  # what controller-gen does anyway


@dataclass(frozen=True)
class Crd:
    path: str
    name: str  # metadata.name, e.g. probes.probe.kubestellar.io
    group: str
    version: str  # the controller-gen that made it


def find_crds(repo: Repo) -> list[Crd]:
    """Committed files holding one CRD that controller-gen made."""
    found = []
    for path in repo.files:
        if not path.endswith((".yaml", ".yml")) or ANNOTATION not in (repo.text(path) or ""):
            continue
        docs = repo.yaml_docs(path) or []
        if len(docs) == 1 and _is_crd(docs[0]):
            found.append(Crd(path, name_of(docs[0]), str(dig(docs[0], "spec", "group") or ""),
                             str(dig(docs[0], "metadata", "annotations", ANNOTATION) or "")))
    return found


def crd_target(repo: Repo, packages: dict[str, GoPackage], scripts: Scripts, plan: Plan, report: Report,
               evidence: dict[str, tuple[str, str]]) -> Target | None:
    """Also records in `evidence` the controller-gen version the committed CRDs name."""
    crds = [c for c in find_crds(repo) if not plan.claimed(c.path)]  # a chart's crds/ file is its target's
    if not crds:
        groups = sorted({p.group for p in packages.values() if p.group and p.object_generate})
        if groups:
            report.missing(f"CRDs of {', '.join(groups)}", "no CRD made by controller-gen is committed: add a `crd` "
                           "target and run `ksbuild generate`")
        return None
    by_dir: dict[str, list[Crd]] = {}
    for crd in crds:
        by_dir.setdefault(posixpath.dirname(crd.path), []).append(crd)
    out_dir = _out_dir(by_dir, scripts, report)
    if not out_dir:
        return None
    bases = by_dir.pop(out_dir)
    api_groups = {p.group for p in packages.values() if p.group}
    strangers = sorted({c.group for c in bases} - api_groups)
    if strangers:
        report.missing(f"the CRDs in {out_dir}", f"group {strangers[0]} is named by no `+groupName=` marker of this "
                       "module, so controller-gen would not write it (and the crd target would remove it): add the "
                       "target by hand")
        return None
    _record_version(bases, evidence, report)
    fields: dict = {"packages": _packages(packages, scripts)}
    if out_dir != CRD_DIR:
        fields["out_dir"] = out_dir
    outputs = [out_dir + "/"]
    _rbac(repo, packages, scripts, fields, outputs, report)
    _copies(repo, out_dir, bases, by_dir, fields, outputs, report)
    _kustomized(repo, out_dir, bases, plan, fields, outputs, report)
    _unsupported(packages, scripts, report)
    name = "manifests" if "rbac_role" in fields else "crds"
    report.inferred(f"target {name}: crd of {', '.join(fields['packages'])} into {out_dir}"
                    + "".join(f", {k} {fields[k]}" for k in ("rbac_role", "copy_to", "kustomize_out") if k in fields),
                    f"{len(bases)} CRD file(s) in {out_dir} made by controller-gen")
    tools = ("controller-gen", "kustomize") if "kustomize_dir" in fields else ("controller-gen",)
    return Target(name, "crd", fields, "make manifests: controller-gen crd" + (" and rbac" if "rbac_role" in fields
                  else ""), tools, tuple(outputs))


def _is_crd(doc) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition" \
        and isinstance(doc.get("metadata"), dict)


def _out_dir(by_dir: dict[str, list[Crd]], scripts: Scripts, report: Report) -> str:
    named = controller_gen_option(scripts.controller_gen, r"output:crd:(?:artifacts:config|dir)=(\S+)")
    if named and posixpath.normpath(named[0].strip("\"'")) in by_dir:
        return posixpath.normpath(named[0].strip("\"'"))
    if CRD_DIR in by_dir:
        return CRD_DIR
    if len(by_dir) == 1:
        return next(iter(by_dir))
    report.missing("the CRD directory", f"CRDs made by controller-gen are in {', '.join(sorted(by_dir))}: add a `crd` "
                   "target with `out_dir:` (and `copy_to:`) by hand")
    return ""


def _record_version(bases: list[Crd], evidence: dict, report: Report) -> None:
    versions = Counter(c.version for c in bases if c.version)
    if len(versions) == 1:
        version = next(iter(versions))
        evidence["controller-gen"] = (version, next(c.path for c in bases if c.version == version))
    elif versions:
        report.note(f"the committed CRDs were made by controller-gen {', '.join(sorted(versions))}: "
                    "the one pinned regenerates all of them")


def _packages(packages: dict[str, GoPackage], scripts: Scripts) -> list[str]:
    """What the Makefile's controller-gen crd call covers, else kubebuilder's `./...` when RBAC markers
    must be read too, else the top directories of the API packages."""
    for command, _ in scripts.controller_gen:
        if " crd" in command or "crd:" in command:
            paths = controller_gen_option([(command, "")], r"paths=(\"[^\"]+\"|\S+)")
            if paths:
                return [p.strip() for p in paths[0].strip("\"'").split(";") if p.strip()]
    if any(p.rbac for p in packages.values()):
        return ["./..."]
    tops = sorted({d.split("/")[0] for d, p in packages.items() if p.group})
    return [f"./{top}/..." if top != "." else "./..." for top in tops] or ["./..."]


def _rbac(repo: Repo, packages: dict[str, GoPackage], scripts: Scripts, fields: dict, outputs: list[str],
          report: Report) -> None:
    markers = next((p.rbac for p in packages.values() if p.rbac), "")
    named_dir = controller_gen_option(scripts.controller_gen, r"output:rbac:(?:artifacts:config|dir)=(\S+)")
    rbac_dir = posixpath.normpath(named_dir[0].strip("\"'")) if named_dir else RBAC_DIR
    role_file = f"{rbac_dir}/role.yaml"
    if not markers:
        if repo.has(role_file):
            report.note(f"{role_file} is written by hand (no `+kubebuilder:rbac` marker): left a source")
        return
    if not repo.has(role_file):
        report.missing(f"the RBAC role of the markers ({markers})", f"{role_file} is not committed: add "
                       "`rbac_role: NAME` to the crd target and run `ksbuild generate`")
        return
    named = controller_gen_option(scripts.controller_gen, r"rbac:roleName=(\S+)")
    roles = [d for d in repo.yaml_docs(role_file) or [] if isinstance(d, dict) and d.get("kind") == "ClusterRole"]
    name = named[0].strip("\"'") if named else name_of(roles[0]) if roles else ""
    if not name:
        report.missing(f"the RBAC role of the markers ({markers})", f"{role_file} names no ClusterRole: add "
                       "`rbac_role: NAME` to the crd target by hand")
        return
    fields["rbac_role"] = name
    if rbac_dir != RBAC_DIR:
        fields["rbac_dir"] = rbac_dir
    outputs.append(role_file)
    report.inferred(f"rbac_role {name}", f"{named[1] if named else role_file}, and the markers at {markers}")


def _copies(repo: Repo, out_dir: str, bases: list[Crd], others: dict[str, list[Crd]], fields: dict,
            outputs: list[str], report: Report) -> None:
    """Another directory holding byte-identical copies of exactly the CRD files: `copy_to`."""
    names = {posixpath.basename(c.path) for c in bases}
    for directory, crds in sorted(others.items()):
        same = {posixpath.basename(c.path) for c in crds} == names and all(
            repo.text(f"{directory}/{name}") == repo.text(f"{out_dir}/{name}") for name in names)
        if same and "copy_to" not in fields:
            fields["copy_to"] = directory
            outputs.append(directory + "/")
            report.inferred(f"copy_to {directory}", f"the copies of {out_dir}'s CRDs there")
        else:
            report.note(f"{directory} holds CRDs made by controller-gen that are not copies of {out_dir}'s: left alone")


def _kustomized(repo: Repo, out_dir: str, bases: list[Crd], plan: Plan, fields: dict, outputs: list[str],
                report: Report) -> None:
    """A committed file holding all the CRDs as one stream, which no chart target makes: the CRD
    kustomization's output (`kustomize_dir`, `kustomize_out`). Files the target already writes are not it."""
    kustomization = next((d for d in (posixpath.dirname(out_dir), out_dir)
                          if d and repo.on_disk(f"{d}/{KUSTOMIZATION}")), "")
    if not kustomization:
        return
    names = {c.name for c in bases}
    streams = []
    for path in repo.files:
        ours = any(path.startswith(out) if out.endswith("/") else path == out for out in outputs)
        if (not path.endswith((".yaml", ".yml")) or ours or plan.claimed(path)
                or "CustomResourceDefinition" not in (repo.text(path) or "")):
            continue
        docs = repo.yaml_docs(path) or []
        if docs and all(_is_crd(d) for d in docs) and {name_of(d) for d in docs} == names \
                and len(docs) == len(names):
            streams.append(path)
    if not streams:
        return
    fields["kustomize_dir"], fields["kustomize_out"] = kustomization, streams[0]
    outputs.append(streams[0])
    report.inferred(f"kustomize_out {streams[0]} from kustomize_dir {kustomization}",
                    f"{streams[0]}, which holds every CRD of {out_dir} as one stream")
    for other in streams[1:]:
        report.note(f"{other} also holds every CRD: left alone (a crd target renders the kustomization to one file)")


def _unsupported(packages: dict[str, GoPackage], scripts: Scripts, report: Report) -> None:
    webhook = next((p.webhook for p in packages.values() if p.webhook), "")
    if webhook:
        report.missing(f"webhook configurations ({webhook})", "add `webhook_dir: config/webhook` to the crd target")
    for command, where in scripts.controller_gen:
        for option in sorted({word for word in command.split() if word.startswith("crd:")} - set(HARMLESS_CRD_OPTIONS)):
            report.note(f"{where} runs controller-gen with `{option}`, which the crd rule does not pass: if verify "
                        "finds the CRDs differ, run controller-gen from a `command` target instead")
