"""A Dockerfile's build arguments and bases, checked when the workspace loads."""
from ksbuild.images.dockerfile import parse, problems

KUBECTL = """\
FROM scratch
ARG VERSION
COPY kubectl /kubectl
LABEL org.opencontainers.image.version=${VERSION}
"""


def test_an_arg_used_without_a_value_is_the_kubectl_bug():
    found = problems(parse(KUBECTL), {"version"})  # the script passed --build-arg version=...
    assert (4, "ARG VERSION is used but gets no value: no default, and the target passes none",
            "Declare it under `build_args:` (or `version_arg: VERSION`).") in found
    passed = [p for p in found if "'version'" in p[1]]
    assert passed and "Did you mean 'VERSION'?" in passed[0][2]
    assert problems(parse(KUBECTL), {"VERSION"}) == []


def test_defaults_global_args_and_continuations():
    text = "ARG BASE=scratch\nFROM ${BASE} AS build\nARG LEVEL=3\nRUN echo $LEVEL \\\n  && echo ${HOME}\n"
    assert problems(parse(text), set()) == []


def test_bases_must_be_pinned_by_digest_or_scratch_or_a_stage():
    text = ("FROM golang:1.26 AS build\nFROM debian@sha256:" + "a" * 64 + "\nFROM build\nFROM scratch\n")
    found = problems(parse(text), set())
    assert [(line, message) for line, message, _ in found] == [(1, "FROM golang:1.26 is not pinned by digest")]
