"""ONBUILD triggers."""

import pytest

from mason.dockerfile import Copy, Run, onbuild_instructions
from mason.context.ignore import parse_ignore
from mason.errors import BuildError, DockerfileError


def test_onbuild_triggers():
    out = onbuild_instructions(["COPY . /app", "RUN <<EOF\necho $HOME\nEOF", "ENV A=1"], image="node:onbuild")
    assert isinstance(out[0], Copy) and out[0].sources == (".",)
    assert isinstance(out[1], Run) and out[1].heredocs[0].content == "echo $HOME\n"
    assert "node:onbuild" in out[0].location.file


@pytest.mark.parametrize("trigger,message", [
    ("FROM x", "isn't allowed as an ONBUILD trigger"),
    ("ONBUILD RUN x", "isn't allowed"),
    ("FOO bar", "unknown instruction"),
    ("RUN <<EOF\nnever ends", "unterminated heredoc"),
])
def test_bad_onbuild_triggers(trigger, message):
    with pytest.raises(DockerfileError, match=message):
        onbuild_instructions([trigger], image="img")


def test_lone_exclamation_is_an_error():
    """moby/patternmatcher refuses ``!`` alone (it would re-include everything)."""
    with pytest.raises(BuildError, match='.dockerignore: illegal exclusion pattern: "!"'):
        parse_ignore("foo\n!\n")
    assert parse_ignore("foo\n!foo\n").matches("foo") is False


def test_lowercase_dockerfile_is_found(tmp_path):
    from mason.executor.executor import default_dockerfile

    assert default_dockerfile(tmp_path) == tmp_path / "Dockerfile"
    (tmp_path / "dockerfile").write_text("FROM scratch\n")
    assert default_dockerfile(tmp_path) == tmp_path / "dockerfile"
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert default_dockerfile(tmp_path) == tmp_path / "Dockerfile"
