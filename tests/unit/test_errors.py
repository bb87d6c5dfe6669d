"""Errors carry where they are (a ``SourceRange``) as data, not only as text."""

from __future__ import annotations

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.errors import BuildError, DockerfileError, MasonError, SourceRange
from mason.executor.stagebuilder import locate


def test_a_dockerfile_error_has_its_range():
    err = DockerfileError("unknown instruction", file="ctx/Dockerfile", line=4, end_line=6)
    assert err.source == SourceRange("ctx/Dockerfile", 4, 6)
    assert err.source.to_dict() == {"file": "ctx/Dockerfile", "start_line": 4, "end_line": 6}
    assert SourceRange("Dockerfile", 2).to_dict()["end_line"] == 2     # one line
    assert DockerfileError("no place").source is None and MasonError("x").source is None


def test_an_error_from_a_step_gets_the_instruction_lines():
    plan = plan_stages(parse_dockerfile("FROM scratch\nEXPOSE 80 \\\n  99999\n", file="app/Dockerfile"))
    expose = plan.stages[0].instructions[0]
    err = BuildError("EXPOSE 99999: port out of range")
    locate(err, expose)
    assert err.source == SourceRange("app/Dockerfile", 2, 3)
    assert str(err) == "app/Dockerfile:2-3: EXPOSE: EXPOSE 99999: port out of range"   # the whole range
    located = BuildError("elsewhere", source=SourceRange("other", 9, 9))
    locate(located, expose)
    assert located.source == SourceRange("other", 9, 9)                 # the first location stays
