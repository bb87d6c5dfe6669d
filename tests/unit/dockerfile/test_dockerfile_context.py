""".dockerignore matching and ONBUILD triggers."""

import pytest

from mason.dockerfile import Copy, DockerIgnore, Run, dockerignore_candidates, onbuild_instructions
from mason.errors import DockerfileError

IGNORE = """\
# comment
node_modules
**/*.pyc
/build
./dist/
  *.md  
!README.md
docs/**/*.png
!docs/keep/**
.git
tmp?
 # not a comment after leading space? it is trimmed but still starts with #
[ab].txt
"""


@pytest.mark.parametrize("path,excluded", [
    ("node_modules", True),
    ("node_modules/x/y.js", True),
    ("src/node_modules", False),
    ("a.pyc", True),
    ("a/b/c.pyc", True),
    ("build", True),
    ("build/out/x", True),
    ("src/build", False),
    ("dist/app.js", True),
    ("x.md", True),
    ("README.md", False),
    ("sub/README.md", False),
    ("docs/a/b/c.png", True),
    ("docs/c.png", True),
    ("docs/keep/a.png", False),
    (".git/HEAD", True),
    ("tmp1", True),
    ("tmp", False),
    ("a.txt", True),
    ("c.txt", False),
    ("src/main.go", False),
    ("./node_modules/a", True),
])
def test_dockerignore(path, excluded):
    assert DockerIgnore.parse(IGNORE).excludes(path) is excluded


def test_exceptions_in_order():
    d = DockerIgnore.parse("*\n!src\nsrc/secret\n")
    assert d.excludes("x") and not d.excludes("src/a") and d.excludes("src/secret") and d.has_exclusions


def test_double_star_alone_matches_everything():
    assert DockerIgnore.parse("**\n").excludes("a/b/c")


def test_bad_pattern():
    with pytest.raises(DockerfileError, match="dockerignore"):
        DockerIgnore.parse("[abc\n")


def test_dockerfile_specific_ignore_first():
    assert dockerignore_candidates("build/app.Dockerfile") == ("build/app.Dockerfile.dockerignore", ".dockerignore")


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
    with pytest.raises(DockerfileError, match='illegal exclusion pattern: "!"'):
        DockerIgnore.parse("foo\n!\n")
    assert DockerIgnore.parse("foo\n!foo\n").excludes("foo") is False


def test_lowercase_dockerfile_is_found(tmp_path):
    from mason.executor.executor import default_dockerfile

    assert default_dockerfile(tmp_path) == tmp_path / "Dockerfile"
    (tmp_path / "dockerfile").write_text("FROM scratch\n")
    assert default_dockerfile(tmp_path) == tmp_path / "dockerfile"
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert default_dockerfile(tmp_path) == tmp_path / "Dockerfile"
