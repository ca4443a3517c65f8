"""The files `kustomize build` reads, found from the kustomization files at load time."""
import os
import textwrap

from ksbuild.errors import Problem
from ksbuild.loader.kustomization import KustomizeScan, kustomization_inputs


def tree(root, files: dict[str, str]) -> str:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content))
    return str(root)


def problems(scan: KustomizeScan) -> list[str]:
    return [str(problem) for problem in scan.problems]


def test_resources_files_and_directories(tmp_path):
    root = tree(tmp_path, {
        "config/default/kustomization.yaml": """\
            namePrefix: ks-
            resources:
            - ../rbac
            - namespace.yaml
            """,
        "config/default/namespace.yaml": "kind: Namespace\n",
        "config/rbac/kustomization.yaml": "resources: [role.yaml, sub/binding.yaml]\n",
        "config/rbac/role.yaml": "kind: Role\n",
        "config/rbac/sub/binding.yaml": "kind: RoleBinding\n",
        "config/rbac/unused.yaml": "kind: Role\n",
    })
    assert kustomization_inputs(root, "config/default") == KustomizeScan(
        files=("config/default/kustomization.yaml", "config/default/namespace.yaml",
               "config/rbac/kustomization.yaml", "config/rbac/role.yaml", "config/rbac/sub/binding.yaml"),
        dirs=(),
        problems=(),
        watched=("config", "config/default", "config/default/kustomization.yaml", "config/rbac",
                 "config/rbac/kustomization.yaml", "config/rbac/sub"),
    )


def test_nested_bases_components_and_a_shared_base_read_once(tmp_path):
    root = tree(tmp_path, {
        "overlay/kustomization.yaml": "bases: [../base, ../other]\ncomponents: [../feature]\n",
        "base/kustomization.yaml": "resources: [../lib, deploy.yaml]\n",
        "base/deploy.yaml": "kind: Deployment\n",
        "other/kustomization.yaml": "resources: [../lib]\n",
        "lib/kustomization.yaml": "resources: [cm.yaml]\n",
        "lib/cm.yaml": "kind: ConfigMap\n",
        "feature/kustomization.yaml": "kind: Component\npatches: [{path: p.yaml}]\n",
        "feature/p.yaml": "kind: Deployment\n",
    })
    scan = kustomization_inputs(root, "overlay")
    assert scan.problems == ()
    assert scan.files == ("base/deploy.yaml", "base/kustomization.yaml", "feature/kustomization.yaml",
                          "feature/p.yaml", "lib/cm.yaml", "lib/kustomization.yaml", "other/kustomization.yaml",
                          "overlay/kustomization.yaml")


def test_every_form_of_patch_and_file_field(tmp_path):
    files = ["p1.yaml", "p2.yaml", "p3.yaml", "r.yaml", "schema.json", "crd.yaml", "conf.yaml", "t.yaml", "v.yaml"]
    root = tree(tmp_path, {
        "k/kustomization.yaml": """\
            patches:
            - path: p1.yaml
              target: {kind: Deployment}
            - patch: |-
                - op: add
                  path: /x
                  value: 1
            patchesStrategicMerge:
            - p2.yaml
            - |-
              apiVersion: v1
              kind: ConfigMap
            patchesJson6902:
            - target: {kind: Service, name: s, version: v1}
              path: p3.yaml
            replacements:
            - path: r.yaml
            - source: {kind: Service, name: s}
              targets: []
            openapi:
              path: schema.json
            crds: [crd.yaml]
            configurations: [conf.yaml]
            transformers: [t.yaml]
            validators: [v.yaml]
            generators:
            - |-
              apiVersion: builtin
              kind: ConfigMapGenerator
            """,
        **{f"k/{name}": "x: 1\n" for name in files},
    })
    scan = kustomization_inputs(root, "k")
    assert scan.problems == ()
    assert scan.files == tuple(sorted(["k/kustomization.yaml"] + [f"k/{name}" for name in files]))


def test_generator_files_with_keys_envs_and_env(tmp_path):
    root = tree(tmp_path, {
        "k/kustomization.yaml": """\
            configMapGenerator:
            - name: settings
              files: [app.properties, config.json=cfg/json.txt]
              envs: [one.env]
              literals: [A=b, path=not-a-file.yaml]
            secretGenerator:
            - name: tls
              env: two.env
              files:
              - tls.crt=certs/crt.pem
            """,
        "k/app.properties": "a=b\n",
        "k/cfg/json.txt": "{}\n",
        "k/one.env": "A=1\n",
        "k/two.env": "B=2\n",
        "k/certs/crt.pem": "pem\n",
    })
    scan = kustomization_inputs(root, "k")
    assert scan.problems == ()
    assert scan.files == ("k/app.properties", "k/certs/crt.pem", "k/cfg/json.txt", "k/kustomization.yaml",
                          "k/one.env", "k/two.env")


def test_a_missing_file_is_reported_at_its_entry(tmp_path):
    root = tree(tmp_path, {
        "config/default/kustomization.yaml": "resources:\n- ../rbac\n",
        "config/rbac/kustomization.yaml": """\
            # the roles
            resources:
            - role.yaml
            - gone.yaml
            configMapGenerator:
            - name: c
              files: [key=missing.txt]
            """,
        "config/rbac/role.yaml": "kind: Role\n",
    })
    scan = kustomization_inputs(root, "config/default")
    assert scan.problems == (
        Problem("config/rbac/kustomization.yaml", 4,
                "resources: 'gone.yaml' does not exist (config/rbac/gone.yaml) and no target produces it",
                "Create config/rbac/gone.yaml, fix the path, or build it with a target."),
        Problem("config/rbac/kustomization.yaml", 7,
                "configMapGenerator[0].files: 'missing.txt' does not exist (config/rbac/missing.txt) and no "
                "target produces it",
                "Create config/rbac/missing.txt, fix the path, or build it with a target."),
    )
    assert "config/rbac/role.yaml" in scan.files


def test_files_and_directories_other_targets_produce_are_accepted(tmp_path):
    root = tree(tmp_path, {
        "config/crd/kustomization.yaml": "resources:\n- bases/crd.yaml\n- generated\n- not-made.yaml\n",
    })
    asked = []

    def will_exist(path):
        asked.append(path)
        return path in ("config/crd/bases/crd.yaml", "config/crd/generated/")

    scan = kustomization_inputs(root, "config/crd", will_exist)
    assert scan.files == ("config/crd/bases/crd.yaml", "config/crd/kustomization.yaml")
    assert scan.dirs == ("config/crd/generated",)
    assert problems(scan) == [
        "config/crd/kustomization.yaml:4: resources: 'not-made.yaml' does not exist (config/crd/not-made.yaml) "
        "and no target produces it\n    Create config/crd/not-made.yaml, fix the path, or build it with a target."]
    assert asked == ["config/crd/bases/crd.yaml/", "config/crd/bases/crd.yaml", "config/crd/generated/",
                     "config/crd/not-made.yaml/", "config/crd/not-made.yaml"]


def test_remote_resources_are_refused(tmp_path):
    root = tree(tmp_path, {
        "k/kustomization.yaml": """\
            resources:
            - https://raw.githubusercontent.com/o/r/main/deploy.yaml
            - github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v1.0.6
            - github.com/owner/repo/config
            - git@github.com:owner/repo.git/config
            - ssh://git@example.com/repo.git//sub
            - example.org/team/repo/base
            """,
    })
    scan = kustomization_inputs(root, "k")
    assert [(p.line, p.message) for p in scan.problems] == [
        (2, "resources: 'https://raw.githubusercontent.com/o/r/main/deploy.yaml' is a remote resource: not hermetic"),
        (3, "resources: 'github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v1.0.6' is a remote "
            "resource: not hermetic"),
        (4, "resources: 'github.com/owner/repo/config' is a remote resource: not hermetic"),
        (5, "resources: 'git@github.com:owner/repo.git/config' is a remote resource: not hermetic"),
        (6, "resources: 'ssh://git@example.com/repo.git//sub' is a remote resource: not hermetic"),
        (7, "resources: 'example.org/team/repo/base' is a remote resource: not hermetic"),
    ]
    assert {p.hint for p in scan.problems} == {"Vendor it into the repository and name the local copy."}


def test_a_local_directory_named_like_a_host_is_local(tmp_path):
    root = tree(tmp_path, {
        "k/kustomization.yaml": "resources: [github.com/owner/repo]\n",
        "k/github.com/owner/repo/kustomization.yaml": "resources: []\n",
    })
    scan = kustomization_inputs(root, "k")
    assert scan.problems == ()
    assert scan.files == ("k/github.com/owner/repo/kustomization.yaml", "k/kustomization.yaml")


def test_a_cycle_is_reported_once_and_ends(tmp_path):
    root = tree(tmp_path, {
        "a/kustomization.yaml": "resources: [../b]\n",
        "b/kustomization.yaml": "resources:\n- x.yaml\n- ../a\n",
        "b/x.yaml": "kind: ConfigMap\n",
    })
    scan = kustomization_inputs(root, "a")
    assert problems(scan) == [
        "b/kustomization.yaml:3: kustomization cycle: a/ -> b/ -> a/\n"
        "    A kustomization cannot include itself, directly or through others: remove one of these entries."]
    assert scan.files == ("a/kustomization.yaml", "b/kustomization.yaml", "b/x.yaml")


def test_a_kustomization_naming_itself_is_a_cycle(tmp_path):
    root = tree(tmp_path, {"a/kustomization.yaml": "resources: [., ../a/]\n"})
    assert [p.message for p in kustomization_inputs(root, "a").problems] == [
        "kustomization cycle: a/ -> a/", "kustomization cycle: a/ -> a/"]


def test_paths_leaving_the_workspace_or_the_kustomization(tmp_path):
    root = tree(tmp_path / "ws", {
        "k/kustomization.yaml": """\
            resources:
            - ../../outside.yaml
            - /etc/passwd
            - ../shared.yaml
            """,
        "shared.yaml": "kind: ConfigMap\n",
    })
    (tmp_path / "outside.yaml").write_text("kind: Secret\n")
    assert problems(kustomization_inputs(root, "k")) == [
        "k/kustomization.yaml:2: resources: '../../outside.yaml' leaves the workspace\n"
        "    Keep every file kustomize reads inside the workspace.",
        "k/kustomization.yaml:3: resources: '/etc/passwd' is an absolute path\n"
        "    Name it relative to the kustomization's directory.",
        "k/kustomization.yaml:4: resources: '../shared.yaml' is outside k/: kustomize reads files only in or "
        "below the kustomization's directory\n"
        "    Move the file under k/, or give its directory a kustomization and list that directory in resources.",
    ]


def test_a_symbolic_link_out_of_the_workspace_is_refused(tmp_path):
    root = tree(tmp_path / "ws", {"k/kustomization.yaml": "resources: [link.yaml]\n"})
    (tmp_path / "secret.yaml").write_text("kind: Secret\n")
    os.symlink(tmp_path / "secret.yaml", tmp_path / "ws/k/link.yaml")
    scan = kustomization_inputs(root, "k")
    assert [p.message for p in scan.problems] == [
        "resources: 'link.yaml' leads outside the workspace through a symbolic link"]
    assert scan.files == ("k/kustomization.yaml",)


def test_kustomization_yml_and_Kustomization_names(tmp_path):
    root = tree(tmp_path, {
        "a/kustomization.yml": "resources: [../b]\n",
        "b/Kustomization": "resources: [x.yaml]\n",
        "b/x.yaml": "kind: ConfigMap\n",
        "both/kustomization.yaml": "resources: []\n",
        "both/kustomization.yml": "resources: []\n",
    })
    scan = kustomization_inputs(root, "a")
    assert (scan.files, scan.problems) == (("a/kustomization.yml", "b/Kustomization", "b/x.yaml"), ())
    assert problems(kustomization_inputs(root, "both", named_at=("BUILD.yaml", 7))) == [
        "BUILD.yaml:7: both/ holds more than one kustomization file: kustomization.yaml, kustomization.yml\n"
        "    Keep one of them; kustomize refuses to choose."]


def test_the_top_directory_problems_are_reported_where_it_is_named(tmp_path):
    root = tree(tmp_path, {"plain/x.yaml": "kind: ConfigMap\n", "file.yaml": "x: 1\n"})
    at = ("src/BUILD.yaml", 12)
    assert problems(kustomization_inputs(root, "plain", named_at=at)) == [
        "src/BUILD.yaml:12: plain/ holds no kustomization (kustomization.yaml, kustomization.yml or "
        "Kustomization)\n    Add a kustomization.yaml there, or name the files themselves."]
    assert problems(kustomization_inputs(root, "gone", named_at=at)) == [
        "src/BUILD.yaml:12: kustomization directory 'gone' does not exist and no target produces it\n"
        "    Create gone/ with a kustomization.yaml, or fix the path."]
    assert problems(kustomization_inputs(root, "../up", named_at=at)) == [
        "src/BUILD.yaml:12: kustomization directory '../up' is absolute or leaves the workspace\n"
        "    Name a directory relative to the component, without '..' leading out of the workspace."]
    produced = kustomization_inputs(root, "gone", lambda path: path == "gone/", named_at=at)
    assert (produced.dirs, produced.problems) == (("gone",), ())


def test_helm_charts_are_refused(tmp_path):
    root = tree(tmp_path, {"k/kustomization.yaml": "resources: []\nhelmCharts:\n- name: x\n  repo: https://c\n"})
    assert problems(kustomization_inputs(root, "k")) == [
        "k/kustomization.yaml:2: helmCharts is not supported: kustomize would fetch the chart and run helm "
        "outside the sandbox\n    Render the chart with its own target (or vendor the rendered manifests) and "
        "list the result under resources."]


def test_wrong_shapes_are_problems_not_exceptions(tmp_path):
    root = tree(tmp_path, {
        "k/kustomization.yaml": """\
            resources: deploy.yaml
            patches:
            - just-a-string
            crds:
            - {path: x}
            components: [file.yaml]
            patchesStrategicMerge: [.]
            configMapGenerator:
            - name: c
              files: [=nokey]
            """,
        "k/file.yaml": "x: 1\n",
        "list/kustomization.yaml": "- resources\n",
        "syntax/kustomization.yaml": "resources:\n  - [a\n",
    })
    assert [(p.line, p.message) for p in kustomization_inputs(root, "k").problems] == [
        (1, "resources must be a list"),
        (3, "patches[0] must be a mapping"),
        (5, "crds: expected a path, not {'path': 'x'}"),
        (6, "components: 'file.yaml' is a file: a component is a directory holding a kustomization"),
        (7, "patchesStrategicMerge: '.' is a directory, not a file"),
        (10, "configMapGenerator[0].files: '=nokey' is not KEY=PATH or PATH"),
    ]
    assert problems(kustomization_inputs(root, "list")) == [
        "list/kustomization.yaml:1: a kustomization must be a mapping\n    Write fields such as `resources:` at "
        "the top level (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/)."]
    assert [(p.file, p.line) for p in kustomization_inputs(root, "syntax").problems] == [
        ("syntax/kustomization.yaml", 3)]


def test_hostile_yaml_is_refused_before_it_is_built(tmp_path):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))
    root = tree(tmp_path, {
        "laughs/kustomization.yaml": laughs,
        "deep/kustomization.yaml": "resources: " + "[" * 200 + "]" * 200 + "\n",
        "recursive/kustomization.yaml": "resources: &r [*r]\n",
    })
    assert [(p.line, p.message) for p in kustomization_inputs(root, "laughs").problems] == [
        (5, "YAML expands to more than 100000 nodes through aliases")]
    assert [(p.line, p.message) for p in kustomization_inputs(root, "deep").problems] == [
        (1, "YAML nested more than 100 deep")]
    assert [(p.line, p.message) for p in kustomization_inputs(root, "recursive").problems] == [
        (1, "alias *r names no complete anchor (a recursive alias?)")]


def test_depth_and_file_count_are_bounded(tmp_path):
    files = {f"c{i}/kustomization.yaml": f"resources: [../c{i + 1}, f.yaml]\n" for i in range(6)}
    files.update({f"c{i}/f.yaml": "x: 1\n" for i in range(7)})
    files["c6/kustomization.yaml"] = "resources: [f.yaml]\n"
    root = tree(tmp_path, files)
    assert problems(kustomization_inputs(root, "c0", max_depth=3)) == [
        "c3/kustomization.yaml:1: kustomizations are nested more than 3 deep (at c4/)\n"
        "    Flatten the chain of bases."]
    scan = kustomization_inputs(root, "c0", max_files=5)
    assert [p.message for p in scan.problems] == ["the kustomization reads more than 5 files"]
    assert len(scan.files) == 5
    assert kustomization_inputs(root, "c0").problems == ()
