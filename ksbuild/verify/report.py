"""What `doit verify` says: a readable summary, JUnit XML (a test case per target) and JSON."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from ksbuild.verify.derived import TargetCheck

LABELS = {"stale": "STALE", "missing": "MISSING", "extra": "EXTRA", "hand-edited": "HAND-EDITED", "failed": "FAILED"}


def summary(revision: str, worktree: bool, checks: list[TargetCheck], extra, uncommitted, seconds: float,
            sparse: int = 0) -> str:
    """`extra`: (check name, problems, one per line, or '') for checks that are not targets. `sparse`:
    how many files of the commit were written out, when only what the checks read was."""
    what = "the working tree" if worktree else f"commit {revision[:12]}"
    if sparse:
        what += f" (planned as the working tree is; {sparse} of its files read)"
    findings = [f for check in checks for f in check.findings]
    restored = sum(1 for c in checks if c.status == "cache-hit")
    lines = [f"ksbuild verify: {what}: {len(checks)} derived-file target(s), {restored} from the action cache, "
             f"{len(checks) - restored} run"]
    relevant = list(uncommitted)
    if relevant:
        note = "checked as they are" if worktree else "not checked: this checks HEAD; verify --worktree checks them"
        lines.append(f"uncommitted changes to derived files or their inputs ({note}): " + ", ".join(relevant[:10])
                     + (f" and {len(relevant) - 10} more" if len(relevant) > 10 else ""))
    for finding in findings:
        lines.append(f"{LABELS[finding.kind]:<12} {finding.path}  ({finding.target})")
        lines.append(f"             fix: {finding.fix}")
        lines.extend("    " + line for line in finding.detail.splitlines())
    wrong = [(name, line) for name, message in extra for line in message.splitlines()]
    for name, line in wrong:
        lines.append(f"{'WRONG':<12} {line}")
    if findings:
        targets = len({f.target for f in findings})
        lines.append(f"ksbuild verify: {len(findings)} problem(s) in {targets} target(s); run `doit generate` and "
                     f"commit the result ({seconds:.1f} s)")
    else:
        lines.append(f"ksbuild verify: every derived file is what the build produces ({seconds:.1f} s)")
    if wrong:
        lines.append(f"ksbuild verify: {len(wrong)} version reference(s) wrong (`doit versions` lists them all)")
    elif any(name == "references" for name, _ in extra):
        lines.append("ksbuild verify: every version reference is right")
    return "\n".join(lines) + "\n"


def junit(checks: list[TargetCheck], extra_cases: list[tuple[str, str]]) -> bytes:
    """`extra_cases`: (name, failure message or '') for checks that are not targets."""
    suite = ElementTree.Element("testsuite", name="ksbuild verify")
    failures = 0
    for check in checks:
        case = ElementTree.SubElement(suite, "testcase", classname="derived-files", name=check.task,
                                      time=f"{check.seconds:.3f}")
        if check.findings:
            failures += 1
            text = "\n".join(f"{f.kind}: {f.path}\nfix: {f.fix}\n{f.detail}" for f in check.findings)
            failure = ElementTree.SubElement(case, "failure", type="derived-files",
                                             message=f"{len(check.findings)} derived file(s) wrong: "
                                                     + ", ".join(f"{f.kind} {f.path}" for f in check.findings[:5]))
            failure.text = text
    for name, message in extra_cases:
        case = ElementTree.SubElement(suite, "testcase", classname="workspace", name=name, time="0")
        if message:
            failures += 1
            ElementTree.SubElement(case, "failure", message=message).text = message
    suite.set("tests", str(len(checks) + len(extra_cases)))
    suite.set("failures", str(failures))
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)


def as_json(revision: str, worktree: bool, checks: list[TargetCheck], extra, uncommitted) -> str:
    findings = [f.as_dict() for check in checks for f in check.findings]
    others = {name.split(" ")[0]: message.splitlines() for name, message in extra}
    return json.dumps({
        "checked": "working tree" if worktree else revision,
        "ok": not findings and not any(others.values()),
        "checks": others,
        "uncommitted": list(uncommitted),
        "findings": findings,
        "targets": [{"task": c.task, "status": c.status, "seconds": c.seconds, "ok": not c.findings}
                    for c in checks],
    }, indent=1) + "\n"
