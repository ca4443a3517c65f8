"""Same-module Go packages found from import declarations, and Go failures explained."""
import textwrap

from ksbuild.loader.goimports import PackageScan, same_module_packages
from ksbuild.loader.goparse import FIRST_READ, parse_imports
from ksbuild.toolchain.gofailure import explain_go_failure

MODULE = "example.com/m"


def tree(root, files: dict[str, str | bytes]) -> str:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content))
    return str(root)


def go(package: str, *imports: str) -> str:
    lines = "".join(f'\t"{path}"\n' for path in imports)
    return f"package {package}\n\nimport (\n{lines})\n\ntype T struct{{}}\n"


def test_a_version_package_needs_its_parent_package(tmp_path):
    root = tree(tmp_path, {
        "go.mod": f"module {MODULE}\n",
        "api/control/doc.go": go("control"),
        "api/control/v1alpha1/types.go": go("v1alpha1", "k8s.io/apimachinery/pkg/runtime", f"{MODULE}/api/control"),
        "api/control/v1alpha1/types_test.go": go("v1alpha1", f"{MODULE}/test/helpers"),
    })
    assert same_module_packages(root, MODULE, ["api/control/v1alpha1"]) == PackageScan(
        dirs=("api/control/v1alpha1", "api/control"),
        files=("api/control/doc.go", "api/control/v1alpha1/types.go"),
        missing=(),
        scanned=("api/control/doc.go", "api/control/v1alpha1/types.go"),
        listed=("api", "api/control", "api/control/v1alpha1"),
        not_found=(),
        generated=(),
        errors=(),
    )


def test_imports_are_followed_transitively_and_cycles_end(tmp_path):
    root = tree(tmp_path, {
        "a/a.go": go("a", f"{MODULE}/b"),
        "b/b.go": go("b", f"{MODULE}/c/d"),
        "c/d/d.go": go("d", f"{MODULE}/a", f"{MODULE}/e"),
        "e/e.go": go("e"),
        "unrelated/u.go": go("u"),
    })
    scan = same_module_packages(root, MODULE, ["./a"])
    assert scan.dirs == ("a", "b", "c/d", "e")
    assert scan.files == ("a/a.go", "b/b.go", "c/d/d.go", "e/e.go")
    assert scan.scanned == ("a/a.go", "b/b.go", "c/d/d.go", "e/e.go")
    assert scan.missing == ()


def test_named_imports_dot_and_blank_imports_and_single_imports(tmp_path):
    root = tree(tmp_path, {
        "main.go": f"""\
            package main

            import _ "{MODULE}/blank"
            import . "{MODULE}/dot"
            import (
            \tnamed "{MODULE}/named"
            \t_ "embed"
            )
            import "fmt"; import `{MODULE}/raw`
            """,
        "blank/x.go": go("blank"),
        "dot/x.go": go("dot"),
        "named/x.go": go("named"),
        "raw/x.go": go("raw"),
    })
    assert same_module_packages(root, MODULE, ["."]).dirs == (".", "blank", "dot", "named", "raw")


def test_comments_and_strings_do_not_import(tmp_path):
    root = tree(tmp_path, {
        "p/p.go": f"""\
            // Copyright: see "{MODULE}/license" and import "{MODULE}/header"
            /* import "{MODULE}/block"
            */
            package p // import "{MODULE}/canonical"

            import (
            \t// "{MODULE}/commented"
            \t/* "{MODULE}/inline" */ "{MODULE}/real" // "{MODULE}/trailing"
            )

            var s = "import \\"{MODULE}/string\\""

            func f() {{ _ = `
            import "{MODULE}/raw"` }}

            import "{MODULE}/after-a-declaration"
            """,
        "real/r.go": go("real"),
    })
    scan = same_module_packages(root, MODULE, ["p"])
    assert scan.dirs == ("p", "real")
    assert scan.missing == ()
    assert scan.errors == ()


def test_other_modules_and_look_alike_paths_are_ignored(tmp_path):
    root = tree(tmp_path, {
        "p/p.go": go("p", "fmt", "example.com/mx/y", "example.com/other", "example.com", "C"),
    })
    scan = same_module_packages(root, MODULE, ["p"])
    assert (scan.dirs, scan.missing, scan.errors) == (("p",), (), ())


def test_the_module_root_package_and_a_module_at_the_repository_root(tmp_path):
    root = tree(tmp_path, {
        "go.mod": f"module {MODULE}\n",
        "root.go": go("m"),
        "cmd/tool/main.go": go("main", MODULE),
    })
    scan = same_module_packages(root, MODULE, ["cmd/tool"])
    assert scan.dirs == ("cmd/tool", ".")
    assert scan.files == ("cmd/tool/main.go", "root.go")


def test_a_missing_same_module_package_is_reported_with_file_and_line(tmp_path):
    root = tree(tmp_path, {
        "api/v1/types.go": "package v1\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/api/gone\"\n"
                           "\t\"example.com/m/api/tests-only\"\n)\n",
        "api/v1/more.go": 'package v1\nimport "example.com/m/api/gone"\n',
        "api/tests-only/x_test.go": go("x"),
    })
    scan = same_module_packages(root, MODULE, ["api/v1"])
    assert scan.missing == (
        ("example.com/m/api/gone", "api/v1/more.go", 2),
        ("example.com/m/api/gone", "api/v1/types.go", 6),
        ("example.com/m/api/tests-only", "api/v1/types.go", 7),
    )
    assert scan.dirs == ("api/v1",)
    assert "api/gone" in scan.listed  # its creation changes the answer


def test_a_major_version_module_path(tmp_path):
    root = tree(tmp_path, {
        "go.mod": "module example.com/m/v2\n",
        "api/types.go": go("api", "example.com/m/v2/internal/util", "example.com/m/api"),
        "internal/util/u.go": go("util"),
    })
    scan = same_module_packages(root, "example.com/m/v2", ["api"])
    assert scan.dirs == ("api", "internal/util")
    assert scan.missing == ()  # example.com/m/api is v1: another module


def test_dir_dots_expands_to_packages_below(tmp_path):
    root = tree(tmp_path, {
        "api/a/a.go": go("a"),
        "api/b/c/c.go": go("c"),
        "api/only_tests/x_test.go": go("x"),
        "api/testdata/t.go": go("t"),
        "api/vendor/v.go": go("v"),
        "api/.hidden/h.go": go("h"),
        "api/_private/p.go": go("p"),
        "api/nested/go.mod": "module example.com/nested\n",
        "api/nested/n.go": go("n"),
        "api/empty/README.md": "no Go here\n",
        "cmd/main.go": go("main"),
    })
    assert same_module_packages(root, MODULE, ["./api/..."]).dirs == ("api/a", "api/b/c")
    assert same_module_packages(root, MODULE, ["..."]).dirs == ("api/a", "api/b/c", "cmd")


def test_test_files_and_ignored_names_are_not_read(tmp_path):
    root = tree(tmp_path, {
        "p/p.go": go("p"),
        "p/p_test.go": go("p", f"{MODULE}/testonly"),
        "p/_draft.go": go("p", f"{MODULE}/draft"),
        "p/.swap.go": go("p", f"{MODULE}/swap"),
    })
    scan = same_module_packages(root, MODULE, ["p"])
    assert (scan.files, scan.scanned, scan.missing) == (("p/p.go",), ("p/p.go",), ())


def test_named_packages_without_go_files_are_not_found(tmp_path):
    root = tree(tmp_path, {"p/p.go": go("p"), "docs/README.md": "text\n"})
    scan = same_module_packages(root, MODULE, ["p", "docs", "nowhere", "../outside", "/abs", "docs/..."])
    assert scan.not_found == ("docs", "nowhere", "../outside", "/abs", "docs/...")
    assert scan.dirs == ("p",)


def test_unreadable_and_malformed_files_are_reported_not_raised(tmp_path):
    root = tree(tmp_path, {
        "p/latin1.go": b"// caf\xe9\npackage p\n",
        "p/noclause.go": "// just a comment\n",
        "p/broken.go": f'package p\n\nimport (\n\t"{MODULE}/q"\n\tfoo\n)\n',
        "p/escape.go": f'package p\nimport "{MODULE}/../../etc"\n',
        "q/q.go": go("q"),
    })
    scan = same_module_packages(root, MODULE, ["p"])
    assert scan.errors == (
        ("p/broken.go", 5, "malformed import declaration: expected an import path string"),
        ("p/escape.go", 2, "invalid import path 'example.com/m/../../etc'"),
        ("p/latin1.go", 1, "not valid UTF-8"),
        ("p/noclause.go", 2, "expected the package clause (`package name`) first"),
    )
    assert scan.dirs == ("p", "q")  # the import before the fault still counts


def test_only_the_import_section_is_read(tmp_path):
    header = "// " + "x" * 76 + "\n"
    root = tree(tmp_path, {
        "p/p.go": (header * (3 * FIRST_READ // 80)).encode() + f'package p\nimport "{MODULE}/q"\n'.encode()
                  + b"func f() {}\n" * 20000 + b"// \xff\xfe not UTF-8, never read\n",
        "q/q.go": go("q"),
    })
    scan = same_module_packages(root, MODULE, ["p"])
    assert (scan.dirs, scan.errors) == (("p", "q"), ())


def test_generated_files_owned_directories_and_skipped_files(tmp_path):
    root = tree(tmp_path, {
        "api/v1/types.go": go("v1", f"{MODULE}/api/shared"),
        "api/v1/zz_generated.deepcopy.go": go("v1", f"{MODULE}/stale"),
        "cmd/main.go": go("main", f"{MODULE}/api/v1", f"{MODULE}/pkg/generated/clientset/versioned"),
    })
    scan = same_module_packages(
        root, MODULE, ["cmd"],
        generated_files=["api/shared/zz_generated.deepcopy.go"],  # not on disk yet
        owned=["pkg/generated/clientset/"],
        skip_files=["api/v1/zz_generated.deepcopy.go"])
    assert scan.dirs == ("cmd", "api/shared", "api/v1", "pkg/generated/clientset/versioned")
    assert scan.files == ("api/shared/zz_generated.deepcopy.go", "api/v1/types.go", "cmd/main.go")
    assert scan.generated == ("pkg/generated/clientset",)
    assert scan.scanned == ("api/v1/types.go", "cmd/main.go")
    assert scan.missing == ()


def test_parse_imports_lines_and_escapes():
    assert parse_imports('\ufeffpackage p; import ("a"; b "c\\x2fd")\nimport "e"') == (
        [("a", 1), ("c/d", 1), ("e", 2)], None)
    assert parse_imports('package p\nimport (\n"a"\n') == (
        [("a", 3)], (4, "the file ends inside an import declaration"))


# explain_go_failure --------------------------------------------------------------------------------
KS = "github.com/kubestellar/kubestellar"


def test_explains_a_same_module_package_missing_from_the_sandbox():
    output = (f"go: finding module for package {KS}/api/control\n"
              f"go: {KS}/api/control/v1alpha1 imports\n"
              f"\t{KS}/api/control: cannot find module providing package {KS}/api/control: reading "
              f"https://proxy.golang.org/{KS}/api/control/@v/list: 403 Forbidden\n")
    assert explain_go_failure(output, KS) == (
        f"package {KS}/api/control (in this module) was not in the sandbox: it is imported but was not found "
        "as an input; check that its directory holds .go files")


def test_explains_other_forms_of_a_missing_package():
    assert explain_go_failure(f"x.go:3:2: no required module provides package {KS}/pkg/util; to add it:", KS) == (
        f"package {KS}/pkg/util (in this module) was not in the sandbox: it is imported but was not found "
        "as an input; check that its directory holds .go files")
    assert explain_go_failure("package kubestellar/api is not in std (/usr/lib/go/src/kubestellar/api)",
                              "kubestellar") == (
        "package kubestellar/api (in this module) was not in the sandbox: it is imported but was not found "
        "as an input; check that its directory holds .go files")
    assert explain_go_failure("main.go:4:2: no required module provides package golang.org/x/exp/slices; "
                              "to add it:\n\tgo get golang.org/x/exp/slices", KS) == (
        "package golang.org/x/exp/slices is not in go.mod/go.sum or the module cache: run `go mod tidy`")


def test_explains_a_403_by_naming_the_module():
    output = ("go: github.com/Foo/bar@v1.2.3: reading https://proxy.golang.org/github.com/!foo/bar/@v/v1.2.3.mod: "
              "403 Forbidden")
    assert explain_go_failure(output, KS) == (
        "package github.com/Foo/bar is not in go.mod/go.sum or the module cache (the Go module proxy answered "
        "403 Forbidden): run `go mod tidy`")


def test_names_two_packages_and_counts_the_rest():
    output = "\n".join(f"no required module provides package example.org/p{i}; to add it:" for i in range(4))
    assert explain_go_failure(output, KS) == (
        "package example.org/p0 is not in go.mod/go.sum or the module cache: run `go mod tidy`\n"
        "package example.org/p1 is not in go.mod/go.sum or the module cache: run `go mod tidy` (and 2 more)")


def test_nothing_to_explain():
    assert explain_go_failure("api/v1/types.go:12:1: syntax error: unexpected }", KS) == ""
    assert explain_go_failure("", KS) == ""


def test_a_module_the_proxy_cannot_list_is_named():
    output = "types.go:4:2: module example.org/not/required: reading https://proxy.test/example.org/not/required/@v/list: 400 Bad Request"
    assert explain_go_failure(output, "github.com/kubestellar/ocm-status-addon") == (
        "package example.org/not/required is not in go.mod/go.sum or the module cache: run `go mod tidy`")
