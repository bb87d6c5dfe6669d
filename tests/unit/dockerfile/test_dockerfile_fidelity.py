"""Front-end behaviours where mason once differed from BuildKit (each case failed before)."""

import pytest

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.errors import DockerfileError


def walk(text, build_args=None, **kw):
    p = plan_stages(parse_dockerfile(text), build_args=build_args or {}, **kw)
    stage = p.stages[p.target]
    scope = p.scope(stage, ())
    out = []
    for instruction in stage.instructions:
        expanded, scope = scope.apply(instruction)
        out.append((expanded, scope))
    return out


@pytest.mark.parametrize("signal", ["SIGKILL", "kill", "9", "SIGRTMIN+3", "usr1"])
def test_stopsignal_accepts_what_parse_signal_accepts(signal):
    (ins, _), = walk(f"FROM a\nSTOPSIGNAL {signal}\n")
    assert ins.signal == signal


@pytest.mark.parametrize("signal", ["NOTASIGNAL", "0", "SIGNOPE"])
def test_stopsignal_rejects_unknown_names_at_its_line(signal):
    with pytest.raises(DockerfileError, match=f"Invalid signal: {signal}") as info:
        walk(f"FROM a\nSTOPSIGNAL {signal}\n")
    assert info.value.line == 2


def test_stopsignal_is_checked_after_expansion():
    (_, scope), (ins, _) = walk("FROM a\nARG S=SIGINT\nSTOPSIGNAL $S\n")
    assert ins.signal == "SIGINT"


def test_healthcheck_interval_zero_means_default():
    (ins, _), = walk("FROM a\nHEALTHCHECK --interval=0ms --timeout=0s CMD true\n")
    assert ins.interval == 0 and ins.timeout == 0
    with pytest.raises(DockerfileError, match="cannot be less than 1ms"):
        walk("FROM a\nHEALTHCHECK --interval=500us CMD true\n")


@pytest.mark.parametrize("given", ["http_proxy", "HTTP_PROXY"])
def test_proxy_build_arg_sets_both_spellings(given):
    (_, scope), = walk("FROM a\nRUN x\n", build_args={given: "http://p:3128"})
    env = scope.run_env()
    assert env["http_proxy"] == env["HTTP_PROXY"] == "http://p:3128"
    assert scope.run_args() == {}


def test_build_arg_value_replaces_default_without_expanding_it():
    steps = walk('FROM a\nARG X="${UNSET:?must be set}"\nRUN x\n', build_args={"X": "given"})
    assert steps[-1][1].run_env()["X"] == "given"
    with pytest.raises(DockerfileError, match="must be set"):
        walk('FROM a\nARG X="${UNSET:?must be set}"\nRUN x\n')


def test_global_build_arg_replaces_default_without_expanding_it():
    p = plan_stages(parse_dockerfile('ARG B="${UNSET:?need B}"\nFROM $B\n'), build_args={"B": "img"})
    assert p.stages[0].base == "img"


@pytest.mark.parametrize("target, value", [(None, "default"), ("first", "first")])
def test_targetstage_is_predefined(target, value):
    text = "FROM a AS first\nARG TARGETSTAGE\nRUN x\nFROM first\n"
    p = plan_stages(parse_dockerfile(text), target=target)
    scope = p.scope(p.stages[0], ())
    for instruction in p.stages[0].instructions:
        _, scope = scope.apply(instruction)
    assert scope.run_env()["TARGETSTAGE"] == value


@pytest.mark.parametrize("text, fragment", [
    ("FROM a\nRUN --mount=type=cache,targte=/x true\n", "unexpected key 'targte' in 'targte=/x' (did you mean target?)"),
    ("FROM a\nRUN --mount=type=cahce,target=/x true\n", "(did you mean cache?)"),
    ("FROM a\nFNTRYPOINT x\n", "did you mean ENTRYPOINT?"),
    ("FROM a\nwrokdir /x\n", "did you mean workdir?"),
])
def test_errors_suggest_as_buildkit(text, fragment):
    with pytest.raises(DockerfileError) as info:
        walk(text)
    assert fragment in f"{info.value} {info.value.hint}"


def test_target_suggests_a_stage():
    with pytest.raises(DockerfileError, match=r"could not be found \(did you mean build\?\)"):
        plan_stages(parse_dockerfile("FROM a AS build\nFROM b\n"), target="biuld")


def test_suggestion_rules():
    from mason.dockerfile.suggest import closest

    assert closest("mont", ["mount", "network"]) == "mount"
    assert closest("mount", ["mount"]) is None          # an exact match: the value is not the problem
    assert closest("xyzzy", ["mount"]) is None          # three edits or more: no suggestion
    assert closest("FNTRYPOINT", ["entrypoint"], case_sensitive=False) == "ENTRYPOINT"


def test_multiline_instruction_error_names_its_line_range():
    with pytest.raises(DockerfileError) as info:
        walk("FROM a\nRUN --bogus \\\n  x \\\n  y\n")
    assert str(info.value).startswith("Dockerfile:2-4: ")


def test_sandbox_hostname_build_arg_needs_no_arg_and_is_not_unused():
    p = plan_stages(parse_dockerfile("FROM a\nRUN x\n"), build_args={"BUILDKIT_SANDBOX_HOSTNAME": "foo"})
    assert p.scope(p.stages[0], ()).sandbox_hostname() == "foo"
    assert not p.warnings
    p = plan_stages(parse_dockerfile("FROM a\nRUN x\n"))
    assert p.scope(p.stages[0], ()).sandbox_hostname() is None


def test_inherited_onbuild_triggers_make_their_sources_dependencies():
    text = ("FROM a AS files\nFROM a AS parent\nONBUILD COPY --from=files /x /x\n"
            "ONBUILD RUN --mount=from=other,target=/m true\nFROM a AS other\nFROM parent\n")
    p = plan_stages(parse_dockerfile(text))
    child = p.stages[p.target]
    assert set(child.deps) == {0, 1, 2}
    assert {s.id for s in p.needed()} >= {"files", "parent", "other"}
