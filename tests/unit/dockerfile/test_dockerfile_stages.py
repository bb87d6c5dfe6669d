"""Stage graph, --target pruning, global ARG resolution and StageScope."""

import pytest

from mason.dockerfile import Arg, Env, Run, StageScope, parse_dockerfile, plan_stages
from mason.errors import DockerfileError


def plan(text, **kw):
    return plan_stages(parse_dockerfile(text), **kw)


MULTI = """\
ARG GO_VERSION=1.22
ARG BASE=alpine:3.19
FROM golang:${GO_VERSION} AS build
RUN go build -o /out/app .
FROM build AS test
RUN go test ./...
FROM node:20 AS web
RUN npm ci
FROM $BASE AS final
COPY --from=build /out/app /app
COPY --from=web /dist /www
FROM final AS debug
RUN --mount=type=bind,from=test,target=/t true
"""


def test_default_target_is_last_and_pruning():
    p = plan(MULTI)
    assert p.target == 4
    assert sorted(p.stages[i].id for i in p.order) == ["build", "debug", "final", "test", "web"]
    position = {i: n for n, i in enumerate(p.order)}
    for i in p.order:
        assert all(position[d] < position[i] for d in p.stages[i].deps)
    assert p.order[-1] == 4


def test_target_prunes_unneeded_stages():
    p = plan(MULTI, target="final")
    assert [s.id for s in p.needed()] == ["build", "web", "final"]
    p = plan(MULTI, target="BUILD")
    assert [s.id for s in p.needed()] == ["build"]


def test_unknown_target():
    with pytest.raises(DockerfileError, match="target stage 'nope' could not be found") as info:
        plan(MULTI, target="nope")
    assert "build" in info.value.hint


def test_global_args_and_build_args_expand_from():
    p = plan(MULTI, build_args={"GO_VERSION": "1.21"})
    assert p.stages[0].base == "golang:1.21"
    assert p.stages[3].base == "alpine:3.19"
    assert p.stages[1].base_stage == 0 and p.stages[4].base_stage == 3
    assert dict(p.global_args) == {"GO_VERSION": "1.21", "BASE": "alpine:3.19"}


def test_from_platform_args():
    p = plan("FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=${TARGETPLATFORM} alpine\n",
             target_platform="linux/arm64/v8", build_platform="linux/amd64")
    # BuildKit's TARGETPLATFORM is containerd's normalised form: arm64's default variant dropped
    assert p.stages[0].platform == "linux/amd64" and p.stages[1].platform == "linux/arm64"


def test_from_undeclared_build_arg_is_not_visible():
    with pytest.raises(DockerfileError, match="should not be blank"):
        plan("FROM $IMG\n", build_args={"IMG": "alpine"})


def test_from_stage_only_earlier_and_case_insensitive():
    p = plan("FROM alpine AS Base\nFROM BASE\n")
    assert p.stages[1].base_stage == 0
    p = plan("FROM later\nFROM alpine AS later\n")
    assert p.stages[0].base_stage is None and p.stages[0].base == "later"


def test_copy_from_index_name_and_image():
    p = plan("FROM a AS one\nFROM b\nCOPY --from=0 /x /x\nCOPY --from=ONE /y /y\nCOPY --from=nginx:1 /z /z\n")
    assert p.stages[1].deps == (0,) and p.stages[1].external_sources == ("nginx:1",)


def test_invalid_stage_index():
    with pytest.raises(DockerfileError, match="invalid stage index 5"):
        plan("FROM a\nCOPY --from=5 /x /x\n")


def test_duplicate_stage_names():
    with pytest.raises(DockerfileError, match="duplicate stage name 'a'") as info:
        plan("FROM x AS a\nFROM y AS A\n")
    assert info.value.line == 2


def test_cycles():
    with pytest.raises(DockerfileError, match="circular dependency"):
        plan("FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n")
    with pytest.raises(DockerfileError, match="circular dependency"):
        plan("FROM a AS self\nCOPY --from=self /x /x\n")


def test_unused_build_arg_is_a_warning():
    p = plan("ARG USED\nFROM a\nARG ALSO\n", build_args={"USED": "1", "ALSO": "2", "EXTRA": "3", "HTTP_PROXY": "p"})
    assert [w.rule for w in p.warnings] == ["UnusedBuildArg"]
    assert "EXTRA" in p.warnings[0].message and "HTTP_PROXY" not in p.warnings[0].message


def test_args_in_pruned_stages_do_not_count():
    p = plan("FROM a AS x\nARG ONLYX\nFROM b\n", build_args={"ONLYX": "1"})
    assert p.warnings and "ONLYX" in p.warnings[0].message


def walk(text, build_args=None, base_env=(), stage=-1, **kw):
    p = plan(text, build_args=build_args or {}, **kw)
    st = p.stages[stage]
    scope = p.scope(st, base_env)
    out = []
    for instruction in st.instructions:
        expanded, scope = scope.apply(instruction)
        out.append((expanded, scope))
    return out


def test_global_arg_needs_redeclaration_in_stage():
    steps = walk("ARG V=1\nFROM a\nRUN x\nARG V\nWORKDIR /$V\n")
    assert "V" not in steps[0][1].run_env()
    assert steps[2][0].path == "/1"


def test_stage_arg_default_build_arg_override_and_env_wins():
    text = "FROM a\nARG A=def\nARG B=def\nENV B=env\nWORKDIR /$A/$B\nRUN x\n"
    steps = walk(text, build_args={"A": "cli", "B": "cli"})
    assert steps[3][0].path == "/cli/env"
    scope = steps[4][1]
    assert scope.run_env()["B"] == "env" and scope.run_args() == {"A": "cli"}


def test_env_pairs_use_the_scope_before_the_instruction():
    steps = walk("FROM a\nENV A=hello\nENV A=bye B=$A\n")
    assert steps[1][1].expansion_env()["B"] == "hello"


def test_arg_value_expands_from_env_and_earlier_args():
    steps = walk("FROM a\nARG X=1\nARG Y=${X}2\nENV Z=${Y}3\n", base_env=["PATH=/bin"])
    assert steps[2][1].env == (("PATH", "/bin"), ("Z", "123"))


def test_platform_args_need_declaration_in_stage():
    steps = walk("FROM a\nRUN x\nARG TARGETARCH\nARG TARGETVARIANT\nRUN y\n", target_platform="linux/arm/v7")
    assert "TARGETARCH" not in steps[0][1].run_env()
    assert steps[3][1].run_args() == {"TARGETARCH": "arm", "TARGETVARIANT": "v7"}


def test_proxy_args_reach_run_without_declaration_but_not_cache_key():
    steps = walk("FROM a\nRUN x\n", build_args={"http_proxy": "http://p:3128", "OTHER": "1"})
    scope = steps[0][1]
    assert scope.run_env()["http_proxy"] == "http://p:3128" and "OTHER" not in scope.run_env()
    assert scope.run_args() == {}
    assert "http_proxy" not in scope.expansion_env()


def test_arg_without_value_is_declared_but_unset():
    steps = walk("FROM a\nARG NOVAL\nRUN x\n")
    assert "NOVAL" not in steps[1][1].run_env() and steps[1][1].declared == ("NOVAL",)


def test_scope_is_a_value():
    s0 = StageScope.start({"A": "1"})
    s1 = s0.set_env("A", "2")
    assert s0.expansion_env() == {"A": "1"} and s1.expansion_env() == {"A": "2"}
    assert hash(s0) != hash(s1)


def test_bad_platform():
    with pytest.raises(DockerfileError, match="invalid platform"):
        plan("FROM a\n", target_platform="amd64")
