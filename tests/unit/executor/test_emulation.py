"""Which platforms a build's RUN steps execute for (what needs an emulator)."""

from __future__ import annotations

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.executor.emulation import run_platforms
from mason.oci.platform import parse_platform

ARM = parse_platform("linux/arm64")


def platforms(text, **kw):
    plan = plan_stages(parse_dockerfile(text, file="Dockerfile"), build_args={}, target=None,
                       target_platform="linux/arm64", build_platform="linux/amd64")
    return [str(p) for p in run_platforms(plan, ARM, **kw)]


def test_cross_compiling_stage_runs_on_the_build_platform():
    text = ("FROM --platform=$BUILDPLATFORM golang AS build\nRUN go build\n"
            "FROM scratch\nCOPY --from=build /app /app\n")
    assert platforms(text) == ["linux/amd64"]


def test_a_stage_built_on_another_has_its_platform():
    text = "FROM --platform=linux/amd64 busybox AS a\nFROM a\nRUN true\nFROM scratch\nCOPY --from=1 / /\n"
    assert platforms(text) == ["linux/amd64"]


def test_target_platform_and_unused_stages():
    text = "FROM busybox AS unused\nRUN true\nFROM busybox\nCOPY x /x\n"
    assert platforms(text) == []                               # the unused stage is not built
    assert platforms(text, skip_unused=False) == ["linux/arm64/v8"]   # Kaniko's every-stage mode
    assert platforms("FROM busybox\nRUN true\n") == ["linux/arm64/v8"]
