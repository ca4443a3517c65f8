import textwrap

from ksbuild.verify.yamldiff import FORMATTING_ONLY, MAX_SHOWN, describe


def y(text: str) -> bytes:
    return textwrap.dedent(text).encode()


CRD = y("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      annotations:
        controller-gen.kubebuilder.io/version: v0.23.0
      name: workstatuses.status.ocm.kubestellar.io
    spec:
      versions:
      - name: v1alpha1
        schema:
          openAPIV3Schema:
            properties:
              status:
                properties:
                  status:
                    type: object
    """)

DEPLOYMENT = y("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: x
      namespace: ns
    spec:
      template:
        spec:
          containers:
          - image: ko.local/x:1
            name: x
    """)

ACCOUNT = y("""\
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: x
      namespace: ns
    """)


def test_a_field_only_the_build_has_is_missing_in_the_committed_file():
    built = CRD.replace(b"                type: object\n",
                        b"                type: object\n              statusDetails:\n"
                        b"                type: string\n")
    assert describe("crds.yaml", CRD, built) == (
        "the YAML data differs in 1 place(s):\n"
        "CustomResourceDefinition workstatuses.status.ocm.kubestellar.io: spec.versions[0].schema.openAPIV3Schema"
        ".properties.status.properties.statusDetails: missing in the committed file")
    assert describe("crds.yaml", built, CRD).endswith("statusDetails: only in the committed file")


def test_a_changed_value_names_both_values():
    built = DEPLOYMENT.replace(b"ko.local/x:1", b"ghcr.io/x:0.2.0")
    assert describe("operator.yaml", DEPLOYMENT, built).splitlines()[1] == (
        "Deployment ns/x: spec.template.spec.containers[0].image: committed 'ko.local/x:1' vs built 'ghcr.io/x:0.2.0'")


def test_documents_are_matched_by_kind_and_name_and_one_only_on_one_side_is_named():
    committed = DEPLOYMENT + b"---\n" + ACCOUNT
    built = ACCOUNT + b"---\n" + DEPLOYMENT.replace(b"name: x\n", b"name: y\n", 1)  # reordered, and renamed
    assert describe("operator.yaml", committed, built).splitlines()[1:] == [
        "Deployment ns/x: only in the committed file",
        "Deployment ns/y: missing in the committed file"]


def test_documents_without_a_name_are_matched_by_position():
    assert describe("list.yml", b"a: 1\n---\nb: 2\n", b"a: 1\n---\nb: 3\n---\nc: 4\n").splitlines()[1:] == [
        "document 2: b: committed 2 vs built 3",
        "document 3: missing in the committed file"]


def test_reindented_requoted_and_reordered_yaml_is_formatting_only():
    built = y("""\
        kind: Deployment
        apiVersion: "apps/v1"
        spec:
            template:
                spec:
                    containers:
                        -   name: 'x'
                            image: "ko.local/x:1"   # a comment
        metadata: {namespace: ns, name: x}
        """)
    assert describe("operator.yaml", DEPLOYMENT, built) == FORMATTING_ONLY
    assert FORMATTING_ONLY == ("formatting only: the YAML data is the same (indentation, quoting, key order or "
                               "comments differ)")


def test_same_looking_values_of_different_types_differ():
    assert describe("a.yaml", b"replicas: 1\nenabled: true\n", b"replicas: '1'\nenabled: 1\n").splitlines()[1:] == [
        "replicas: committed 1 vs built '1'", "enabled: committed True vs built 1"]


def test_lists_of_different_length_compare_per_index_then_name_the_extra_items():
    assert describe("a.yaml", b"args: [a, b, c, d]\n", b"args: [a, x]\n").splitlines()[1:] == [
        "args[1]: committed 'b' vs built 'x'",
        "args[2]: only in the committed file",
        "args[3]: only in the committed file"]


def test_a_key_with_dots_or_slashes_is_bracket_quoted():
    built = CRD.replace(b"v0.23.0", b"v0.24.0")
    assert describe("crd.yaml", CRD, built).splitlines()[1] == (
        "CustomResourceDefinition workstatuses.status.ocm.kubestellar.io: "
        'metadata.annotations["controller-gen.kubebuilder.io/version"]: committed \'v0.23.0\' vs built \'v0.24.0\'')
    assert describe("a.yaml", b"a b: 1\n", b"a b: 2\n").splitlines()[1] == '["a b"]: committed 1 vs built 2'


def test_unparsable_input_not_yaml_or_too_large_gives_none():
    assert describe("a.yaml", b"a: [1\n", b"a: 1\n") is None
    assert describe("a.yaml", b"a: 1\n", b"{{ .Values.x }}: : :\n") is None
    assert describe("a.yaml", b"a: 1\n", b"a: \xff\n") is None
    assert describe("a.json", b"a: 1\n", b"a: 2\n") is None
    assert describe("a.yaml", b"a: 1\n", b"a: " + b"x" * (6 * 1024 * 1024) + b"\n") is None


def test_aliases_that_expand_to_a_huge_tree_are_not_walked_whole():
    laughs = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        laughs += f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]\n".encode()
    assert describe("a.yaml", laughs, laughs) is None  # the same 10^8 values: too many to compare
    lines = describe("a.yaml", laughs, laughs.replace(b"x", b"y")).splitlines()
    assert lines[0] == f"the YAML data differs in more than {MAX_SHOWN} places:"
    assert lines[1] == "a[0]: committed 'x' vs built 'y'"
    assert lines[-1] == "... and more (too many to count)"


def test_the_number_of_differences_shown_is_bounded_and_the_rest_counted():
    committed = "".join(f"k{i}: {i}\n" for i in range(MAX_SHOWN + 50)).encode()
    built = "".join(f"k{i}: {i + 1}\n" for i in range(MAX_SHOWN + 50)).encode()
    lines = describe("a.yaml", committed, built).splitlines()
    assert lines[0] == f"the YAML data differs in {MAX_SHOWN + 50} place(s):"
    assert lines[1] == "k0: committed 0 vs built 1"
    assert len(lines) == 1 + MAX_SHOWN + 1
    assert lines[-2] == f"k{MAX_SHOWN - 1}: committed {MAX_SHOWN - 1} vs built {MAX_SHOWN}"
    assert lines[-1] == "... and 50 more difference(s)"
