"""Validation before anything runs: every error names file:line and what to do."""
import pytest

from ksbuild.errors import ConfigError
from ksbuild.loader.graph import load_graph

ONE_COMPONENT = "components:\n  app:\n    path: app\n"


def problems(workspace) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_graph(str(workspace.root))
    return [str(p) for p in err.value.problems]


def build(workspace, text: str, files=("in.txt",)):
    workspace.write("workspace.yaml", ONE_COMPONENT)
    workspace.write("app/BUILD.yaml", text)
    for name in files:
        workspace.write(f"app/{name}", "x\n")


def test_valid_workspace_plans_targets_in_dependency_order(workspace):
    build(workspace, """\
        targets:
          second:
            rule: copy
            srcs: [out.txt]
            to: [copies/]
          first:
            rule: command
            srcs: ["*.txt"]
            outs: [out.txt]
            cmd: [sh, -c, "cat in.txt > out.txt"]
        """)
    graph = load_graph(str(workspace.root))
    assert list(graph.plans) == ["app:first", "app:second"]
    first, second = graph.plans["app:first"], graph.plans["app:second"]
    assert first.inputs == ("app/in.txt",)  # the glob does not pick up the target's own output
    assert first.outputs == ("app/out.txt",)
    assert second.inputs == ("app/out.txt",)
    assert second.outputs == ("app/copies/out.txt",)
    assert [str(d) for d in second.deps] == ["//app:first"]


def test_unknown_key_with_suggestion(workspace):
    build(workspace, """\
        targets:
          t:
            rule: command
            srcz: [in.txt]
            outs: [o]
            cmd: ["true"]
        """)
    [problem] = problems(workspace)
    assert problem.startswith("app/BUILD.yaml:4: unknown key 'srcz' in target 't'")
    assert "Did you mean 'srcs'?" in problem


def test_wrong_type_and_missing_field(workspace):
    build(workspace, """\
        targets:
          t:
            rule: command
            outs: out.txt
          u:
            rule: command
            outs: [o]
            cmd: [echo, 1]
        """)
    found = problems(workspace)
    assert any(p.startswith("app/BUILD.yaml:4: target 't': field 'outs' must be a list of strings") for p in found)
    assert any(p.startswith("app/BUILD.yaml:2: target 't' is missing required field 'cmd'") for p in found)
    assert any(p.startswith("app/BUILD.yaml:8: target 'u': field 'cmd'") and "int 1" in p for p in found)


def test_unknown_rule(workspace):
    build(workspace, "targets:\n  t:\n    rule: kopy\n    srcs: [in.txt]\n    to: [x/]\n")
    [problem] = problems(workspace)
    assert problem.startswith("app/BUILD.yaml:3: target 't': unknown rule 'kopy'")
    assert "Did you mean 'copy'?" in problem


def test_unknown_targets_in_srcs_and_deps(workspace):
    workspace.write("workspace.yaml", ONE_COMPONENT + "  lib:\n    path: lib\n")
    workspace.write("lib/BUILD.yaml", "targets: {}\n")
    workspace.write("app/BUILD.yaml", """\
        targets:
          t:
            rule: command
            srcs: [":nope"]
            deps:
              - //lib:gone
              - //elsewhere:x
            outs: [o]
            cmd: ["true"]
        """)
    found = problems(workspace)
    assert found[0].startswith("app/BUILD.yaml:4: //app:t: srcs names unknown target ':nope'")
    assert found[1].startswith("app/BUILD.yaml:6: //app:t: deps names unknown target '//lib:gone'")
    assert found[2].startswith("app/BUILD.yaml:7: //app:t: deps names unknown target '//elsewhere:x'")
    assert "No component of that name" in found[2]


@pytest.mark.parametrize("out", ["/etc/passwd", "../escape.txt", "a/../../b"])
def test_output_outside_the_component(workspace, out):
    build(workspace, f"targets:\n  t:\n    rule: command\n    outs: ['{out}']\n    cmd: ['true']\n")
    [problem] = problems(workspace)
    assert problem.startswith(f"app/BUILD.yaml:4: //app:t: outs path '{out}' is absolute or leaves the component")


def test_two_targets_claiming_one_output(workspace):
    build(workspace, """\
        targets:
          a:
            rule: command
            outs: [same.txt]
            cmd: ["true"]
          b:
            rule: command
            outs: [same.txt]
            cmd: ["true"]
        """)
    [problem] = problems(workspace)
    assert problem.startswith("app/BUILD.yaml:8: //app:b: output 'app/same.txt' is already produced by //app:a "
                              "(app/BUILD.yaml:4)")


def test_dependency_cycle_is_printed(workspace):
    build(workspace, """\
        targets:
          x:
            rule: command
            srcs: [":y"]
            outs: [x]
            cmd: ["true"]
          y:
            rule: command
            srcs: [z]
            outs: [y]
            cmd: ["true"]
          z:
            rule: command
            deps: [":x"]
            outs: [z]
            cmd: ["true"]
        """)
    [problem] = problems(workspace)
    assert problem.startswith("app/BUILD.yaml:2: dependency cycle: //app:x -> //app:y -> //app:z -> //app:x")
    assert "//app:z  (app/BUILD.yaml:12)" in problem


def test_missing_source_and_empty_glob(workspace):
    build(workspace, "targets:\n  t:\n    rule: command\n    srcs:\n      - nope.txt\n      - '*.zz'\n"
                     "    outs: [o]\n    cmd: ['true']\n")
    found = problems(workspace)
    assert found[0].startswith("app/BUILD.yaml:5: //app:t: srcs: file 'nope.txt' does not exist")
    assert found[1].startswith("app/BUILD.yaml:6: //app:t: srcs: glob '*.zz' matches no file")


def test_yaml_syntax_error(workspace):
    build(workspace, "targets:\n  t: [\n")
    [problem] = problems(workspace)
    assert problem.startswith("app/BUILD.yaml:3: YAML syntax error")


def test_workspace_errors(workspace):
    workspace.write("workspace.yaml", """\
        components:
          build:
            path: x
          ok:
            path: missing
            git: nowhere
            revision: v1
        extra: 1
        """)
    found = problems(workspace)
    assert any(p.startswith("workspace.yaml:8: unknown key 'extra' in workspace.yaml") for p in found)
    assert any(p.startswith("workspace.yaml:2: component name 'build' is reserved") for p in found)
    assert any(p.startswith("workspace.yaml:7: unknown key 'revision' in component 'ok'") for p in found)
    workspace.write("workspace.yaml", "components:\n  ok:\n    path: x\n    git: nowhere\n")
    assert problems(workspace)[0].startswith("workspace.yaml:2: component 'ok': give either `path`, or `git` and `rev`")


def test_missing_build_file(workspace):
    workspace.write("workspace.yaml", ONE_COMPONENT)
    [problem] = problems(workspace)
    assert problem.startswith("workspace.yaml:3: component 'app': no BUILD.yaml in 'app'")


def test_glob_matches_declared_outputs_not_yet_built(workspace):
    build(workspace, """\
        targets:
          gen:
            rule: command
            outs: [gen/a.yaml, gen/b.yaml]
            cmd: ["true"]
          both-places:
            rule: copy
            srcs: ["gen/*.yaml"]
            to: [files/]
        """)
    graph = load_graph(str(workspace.root))
    assert graph.plans["app:both-places"].outputs == ("app/files/a.yaml", "app/files/b.yaml")


def test_changing_the_command_changes_only_the_command_part(workspace):
    text = "targets:\n  t:\n    rule: command\n    srcs: [in.txt]\n    outs: [o]\n    cmd: [sh, -c, '{}']\n"
    build(workspace, text.format("echo 1 > o"))
    before = load_graph(str(workspace.root)).plans["app:t"]
    workspace.write("app/BUILD.yaml", text.format("echo 2 > o"))
    after = load_graph(str(workspace.root)).plans["app:t"]
    changed = {k for k in before.parts if before.parts[k] != after.parts[k]}
    assert changed == {"command"}
    assert before.digest != after.digest


def test_globs_recurse_with_double_star_skip_hidden_and_respect_depth(workspace):
    files = ["a.go", "pkg/b.go", "pkg/deep/c.go", ".hidden.go", "pkg/.x/d.go", "x/one/k.txt", "x/one/two/k.txt"]
    build(workspace, """\
        targets:
          all-go:
            rule: command
            srcs: ["**/*.go"]
            outs: [o1]
            cmd: ["true"]
          top-go:
            rule: command
            srcs: ["*.go"]
            outs: [o2]
            cmd: ["true"]
          one-level:
            rule: command
            srcs: ["x/*/k.txt"]
            outs: [o3]
            cmd: ["true"]
        """, files=files)
    graph = load_graph(str(workspace.root))
    assert graph.plans["app:all-go"].inputs == ("app/a.go", "app/pkg/b.go", "app/pkg/deep/c.go")
    assert graph.plans["app:top-go"].inputs == ("app/a.go",)
    assert graph.plans["app:one-level"].inputs == ("app/x/one/k.txt",)
    assert {"app", "app/pkg", "app/pkg/deep", "app/x", "app/x/one", "workspace.yaml", "app/BUILD.yaml"} \
        <= set(graph.watched)
