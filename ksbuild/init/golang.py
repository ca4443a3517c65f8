"""The Go generator targets: `go_deepcopy` for the committed zz_generated.deepcopy.go files controller-gen
made, and `go_clients` for a committed client-gen clientset with its listers and informers."""
from __future__ import annotations

import posixpath
import re

from ksbuild.init import headers
from ksbuild.init.gomod import GoMod
from ksbuild.init.gosource import GoPackage, generated_by
from ksbuild.init.plan import Target
from ksbuild.init.report import Report
from ksbuild.init.repo import Repo
from ksbuild.init.scripts import Scripts, controller_gen_option

DEEPCOPY_FILE = "zz_generated.deepcopy.go"


def deepcopy_target(repo: Repo, packages: dict[str, GoPackage], scripts: Scripts, report: Report) -> Target | None:
    files = []
    for path in repo.named(DEEPCOPY_FILE):
        directory, tool = posixpath.dirname(path) or ".", generated_by(repo, path)
        if tool != "controller-gen":
            report.missing(f"{path} (made by {tool or 'an unknown generator'})",
                           "go_deepcopy runs controller-gen: add a `command` target that runs your generator")
        elif not (directory in packages and packages[directory].object_generate):
            report.missing(f"{path}", f"{directory} has no `+kubebuilder:object:generate=true` or `object:root=true` "
                           "marker, so controller-gen would not write it: add the marker, or a target by hand")
        else:
            files.append(path)
    for directory, package in sorted(packages.items()):
        if package.object_generate and not repo.has(posixpath.join(directory, DEEPCOPY_FILE)):
            report.missing(f"deepcopy code of {directory} ({package.object_generate})",
                           f"{directory}/{DEEPCOPY_FILE} is not committed: add {directory} to the deepcopy target's "
                           "`packages` and run `ksbuild generate`")
    if not files:
        return None
    named = controller_gen_option(scripts.controller_gen, r"object:headerFile=(\"[^\"]+\"|\S+)")
    header, year = _header(repo, files, ("boilerplate.go.txt", "boilerplate.generatego.txt"),
                           named[0] if named else "", year_allowed=True)
    if not header:
        report.missing("the deepcopy target", f"no hack/boilerplate*.txt is the header of {files[0]}: save that header "
                       "as hack/boilerplate.go.txt, then add a go_deepcopy target by hand")
        return None
    dirs = [posixpath.dirname(p) or "." for p in files]
    fields = {"packages": dirs, "header": header} | ({"year": year} if year else {})
    report.inferred(f"target deepcopy: go_deepcopy of {', '.join(dirs)}, header {header}"
                    + (f", year {year}" if year else ""), ", ".join(files))
    return Target("deepcopy", "go_deepcopy", fields, "make generate: controller-gen object", ("controller-gen",),
                  tuple(files))


def clients_target(repo: Repo, gomod: GoMod, packages: dict[str, GoPackage], scripts: Scripts,
                   report: Report) -> Target | None:
    genclient = sorted(d for d, p in packages.items() if p.genclient)
    clientsets = [p for p in repo.named("clientset.go") if generated_by(repo, p) == "client-gen"
                  and posixpath.basename(posixpath.dirname(posixpath.dirname(p))) == "clientset"]
    if not clientsets:
        if genclient:
            report.missing(f"clients of {', '.join(genclient)} (+genclient at {packages[genclient[0]].genclient})",
                           "no client-gen clientset is committed: add a go_clients target and run `ksbuild generate`")
        return None
    outs = sorted({posixpath.dirname(posixpath.dirname(posixpath.dirname(p))) for p in clientsets})
    if len(outs) != 1:
        report.missing(f"clients in {', '.join(outs)}", "more than one generated clientset: add a go_clients target "
                       "for each by hand (one per API root)")
        return None
    out, clientset = outs[0], posixpath.basename(posixpath.dirname(clientsets[0]))
    problem = _clients_problem(repo, packages, genclient, out, clientset)
    if problem:
        report.missing(f"the clients in {out}", problem)
        return None
    generated = [p for p in repo.under(out) if p.endswith(".go") and generated_by(repo, p).endswith("-gen")]
    samples = [next(p for p in generated if p.startswith(f"{out}/{kind}/"))
               for kind in ("clientset", "listers", "informers")]
    named = re.search(r"--(?:go-header-file|boilerplate)[= ]\s*\"?(\S+?)\"?(?:\s|$)",
                      "\n".join(line for line, _ in scripts.lines))
    header, _ = _header(repo, samples, ("boilerplate.generatego.txt", "boilerplate.go.txt"),
                        named.group(1).lstrip("/") if named else "", year_allowed=False)
    if not header:
        report.missing(f"the clients in {out}", f"no hack/boilerplate*.txt without YEAR is the header of {samples[0]} "
                       "(client-gen writes the current year for YEAR): add a go_clients target by hand")
        return None
    fields = {"packages": genclient, "header": header}
    if out != "pkg/generated":
        fields["out_dir"] = out
    if clientset != "versioned":
        fields["clientset_name"] = clientset
    tools = ("client-gen", "lister-gen", "informer-gen")
    format_step = _goimports(repo, gomod, scripts, generated, report)
    if format_step:
        fields["format"] = [format_step]
        tools += ("goimports",)
    report.inferred(f"target clients: go_clients of {', '.join(genclient)} into {out} (clientset {clientset}), "
                    f"header {header}", f"{clientsets[0]} and the +genclient markers")
    report.note("go_clients: irregular plurals are not inferred: set `plural_exceptions` if client-gen needs them")
    return Target("clients", "go_clients", fields, "client-gen, lister-gen and informer-gen", tools,
                  tuple(f"{out}/{kind}/" for kind in ("clientset", "listers", "informers")))


def _clients_problem(repo: Repo, packages: dict[str, GoPackage], genclient: list[str], out: str,
                     clientset: str) -> str:
    """Why a go_clients target would not reproduce what is committed, or ''."""
    if not genclient:
        return "no package has a `+genclient` marker: add a go_clients target by hand"
    if len({posixpath.dirname(posixpath.dirname(d)) for d in genclient}) != 1:
        return (f"the +genclient packages {', '.join(genclient)} are not GROUP/VERSION directories under one root: "
                "add a go_clients target per root by hand")
    for kind, generator in (("listers", "lister-gen"), ("informers", "informer-gen")):
        if not any(generated_by(repo, p) == generator for p in repo.under(f"{out}/{kind}")):
            return f"{out}/{kind} holds no {generator} files, and go_clients writes them: add the target by hand"
    if any(p.startswith(f"{out}/applyconfiguration") for p in repo.under(out)):
        return "client-gen apply configurations are committed, which go_clients does not write: add a target by hand"
    for directory in genclient:
        groups = {posixpath.basename(posixpath.dirname(directory)), packages[directory].group.split(".")[0]}
        version = posixpath.basename(directory)
        if not any(repo.under(f"{out}/clientset/{clientset}/typed/{group}/{version}") for group in groups if group):
            return f"{out}/clientset/{clientset} has no typed client of {directory}: add the target by hand"
    return ""


def _header(repo: Repo, generated: list[str], preferred: tuple[str, ...], named: str,
            year_allowed: bool) -> tuple[str, str]:
    for candidate in headers.candidates(repo, preferred, named.strip("\"'")):
        matched, year = headers.match(repo, candidate, generated, year_allowed)
        if matched:
            return candidate, year
    return "", ""


def _goimports(repo: Repo, gomod: GoMod, scripts: Scripts, generated: list[str], report: Report) -> dict | None:
    """A goimports step when the committed clients keep the module's own imports in a group of their own
    (which goimports -local makes), with the prefix the scripts give it, else the one the imports show."""
    local = [group for path in generated[:200] for group in _local_groups(repo.text(path) or "", gomod.module)]
    if not local:
        return None
    imports = [path for group in local for path in group]
    if scripts.goimports_local:
        prefix, where = scripts.goimports_local
    else:
        prefix = gomod.module if all(p == gomod.module or p.startswith(gomod.module + "/") for p in imports) \
            else _common_prefix(imports)
        where = "the committed clients, whose imports of the module stand in a group of their own"
    if prefix.count("/") < 1:
        return None
    report.inferred(f"clients formatted by goimports -local {prefix}", where)
    return {"tool": "goimports", "args": ["-w", "-local", prefix]}


def _local_groups(text: str, module: str) -> list[list[str]]:
    """The last import group of the file when it holds only the module's (or its organisation's)
    imports and an earlier group holds other non-standard ones."""
    block = re.search(r"^import \((.*?)^\)", text, re.S | re.M)
    if not block:
        return []
    groups = [re.findall(r'"([^"]+)"', chunk) for chunk in re.split(r"\n\s*\n", block.group(1))]
    groups = [g for g in groups if g]
    owner = module.rsplit("/", 1)[0] + "/"
    if len(groups) < 2 or not all(p.startswith(owner) for p in groups[-1]):
        return []
    others = [p for g in groups[:-1] for p in g if "." in p.split("/")[0]]
    return [groups[-1]] if others and not any(p.startswith(owner) for p in others) else []


def _common_prefix(paths: list[str]) -> str:
    parts = [p.split("/") for p in paths]
    common = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "/".join(common)
