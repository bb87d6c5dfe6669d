""".dockerignore: the file syntax and the matcher it parses into (the one COPY --exclude uses)."""

import pytest

from mason.context.ignore import ignore_candidates, parse_ignore
from mason.errors import BuildError

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
    assert parse_ignore(IGNORE).matches(path) is excluded


def test_exceptions_in_order():
    d = parse_ignore("*\n!src\nsrc/secret\n")
    assert d.matches("x") and not d.matches("src/a") and d.matches("src/secret") and d.has_exceptions


def test_double_star_alone_matches_everything():
    assert parse_ignore("**\n").matches("a/b/c")


def test_bad_pattern():
    with pytest.raises(BuildError, match="dockerignore"):
        parse_ignore("[abc\n")


def test_dockerfile_specific_ignore_first():
    assert ignore_candidates("build/app.Dockerfile") == ("build/app.Dockerfile.dockerignore", ".dockerignore")


def test_bom_and_column_zero_comments():
    d = parse_ignore("\ufeffa\n#b\n  c  \n")
    assert d.matches("a") and not d.matches("#b") and d.matches("c")
