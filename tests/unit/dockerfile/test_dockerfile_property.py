"""Property: whatever the text, the front end raises nothing but DockerfileError."""

from hypothesis import given, settings
from hypothesis import strategies as st

from mason.dockerfile import check_dockerfile, expand_word, expand_words, parse_dockerfile, plan_stages
from mason.errors import DockerfileError

FRAGMENTS = st.sampled_from([
    "FROM ", "RUN ", "COPY ", "ADD ", "ENV ", "ARG ", "LABEL ", "ONBUILD ", "HEALTHCHECK ", "SHELL ", "EXPOSE ",
    "CMD ", "WORKDIR ", "USER ", "VOLUME ", "STOPSIGNAL ", "MAINTAINER ", "AS ", "--mount=", "--from=", "--chmod=",
    "type=cache,target=/x", "<<EOF", "<<-'E'", "EOF", "\n", "\\\n", "`\n", "# escape=`\n", "# syntax=x\n", "$", "${",
    "}", ":-", "#", "%", "/", "'", '"', "[", "]", '["a"', ",", "=", " ", "\t", "\r\n", "\ufeff", "x", "1", "é",
    "--network=none ", "--interval=", "CMD", "NONE", "scratch",
])
TEXT = st.one_of(st.text(max_size=200), st.lists(FRAGMENTS, max_size=40).map("".join))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_parser_raises_only_dockerfile_error(text):
    try:
        df = parse_dockerfile(text)
    except DockerfileError:
        return
    try:
        plan = plan_stages(df, build_args={"x": "1"})
        for stage in plan.needed():
            scope = plan.scope(stage, ["PATH=/bin"])
            for instruction in stage.instructions:
                _, scope = scope.apply(instruction)
    except DockerfileError:
        pass


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_check_never_raises(text):
    for d in check_dockerfile(text):
        assert d.severity in ("error", "warning") and d.line >= 1


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["\\", "`"]))
def test_expand_raises_only_dockerfile_error(word, escape):
    env = {"A": "a b", "EMPTY": ""}
    for fn in (expand_word, expand_words):
        try:
            fn(word, env, escape)
        except DockerfileError:
            pass
