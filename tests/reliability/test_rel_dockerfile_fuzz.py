"""Fuzzing the Dockerfile front end beyond tests/unit/dockerfile/test_dockerfile_property.py:
mutations of the real-world corpus (tests/corpus/dockerfiles), and every instruction's
``expand`` and ``plan_stages`` under hostile build-args and environments. Whatever the input,
only DockerfileError (or NotSupportedError for refused syntax) may come out: never a crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.errors import DockerfileError, NotSupportedError

CORPUS = sorted((Path(__file__).resolve().parents[1] / "corpus" / "dockerfiles").glob("*.Dockerfile"))
TEXTS = [p.read_text(encoding="utf-8") for p in CORPUS]
HOSTILE_VALUES = st.one_of(st.text(max_size=30), st.sampled_from([
    "$", "${", "${X:-${Y", "\\", "`", "\n", "\x00", "a b", "--mount=type=secret", "../../etc", "$(id)",
    "'\"", "${A:?boom}", "x" * 2000, "\u202e", "=", "AS", "scratch"]))
ENVS = st.dictionaries(st.sampled_from(["A", "B", "HOME", "PATH", "TARGETPLATFORM", "BUILDPLATFORM", "X", "Y"]),
                       HOSTILE_VALUES, max_size=5)


def _walk(text: str, build_args: dict, env: dict) -> None:
    try:
        df = parse_dockerfile(text)
        plan = plan_stages(df, build_args=build_args)
        for stage in plan.stages:
            scope = plan.scope(stage, [f"{k}={v}" for k, v in env.items()])
            for instruction in stage.instructions:
                instruction.expand(dict(env))           # the raw expand, independent of the scope
                _, scope = scope.apply(instruction)
    except (DockerfileError, NotSupportedError):
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TEXTS), st.data(), ENVS, ENVS)
def test_mutated_corpus(text, data, build_args, env):
    """Delete, duplicate or splice a few characters/lines of a real Dockerfile."""
    lines = text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(0, 4))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "cut", "insert"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            j = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j]
        else:
            lines.insert(i, data.draw(HOSTILE_VALUES))
    _walk("".join(lines), build_args, env)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(TEXTS), ENVS, ENVS)
def test_corpus_with_hostile_args_and_env(text, build_args, env):
    _walk(text, build_args, env)


def test_corpus_is_present():
    assert len(TEXTS) >= 20
