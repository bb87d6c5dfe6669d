"""BuildKit's parser golden files: ``mason dockerfile parse`` prints each ``testfiles/*/
Dockerfile`` exactly as BuildKit's ``AST.Dump()`` does (the ``result`` file), and refuses every
``testfiles-negative`` one. The data and its licence: ``parser/NOTICE``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "parser"
CASES = sorted(p.name for p in (HERE / "testfiles").iterdir())
NEGATIVE = sorted(p.name for p in (HERE / "testfiles-negative").iterdir())


def mason_parse(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mason", "dockerfile", "parse", *extra, str(path)],
                          capture_output=True, text=True)


def test_all_golden_files_are_here():
    assert len(CASES) == 33 and len(NEGATIVE) == 4


@pytest.mark.parametrize("name", CASES)
def test_parse_matches_buildkit_dump(name):
    from mason.dockerfile.parser import parse

    text = (HERE / "testfiles" / name / "Dockerfile").read_bytes().decode("utf-8", "surrogateescape")
    want = (HERE / "testfiles" / name / "result").read_text()
    assert parse(text, file="Dockerfile").dump() == want


@pytest.mark.parametrize("name", NEGATIVE)
def test_parse_refuses_buildkit_negative_cases(name):
    from mason.dockerfile.parser import parse
    from mason.errors import DockerfileError

    text = (HERE / "testfiles-negative" / name / "Dockerfile").read_text()
    with pytest.raises(DockerfileError):
        parse(text, file="Dockerfile")


def test_cli_prints_the_dump_and_warnings_on_stderr():
    """``parse`` prints the tree on stdout; warnings (here an empty continuation line) go to
    stderr, so ``--json`` output stays readable JSON."""
    import json

    path = HERE / "testfiles" / "continueIndent" / "Dockerfile"
    plain = mason_parse(path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == (HERE / "testfiles" / "continueIndent" / "result").read_text()
    as_json = mason_parse(path, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["instructions"]
    assert "Empty continuation line" in as_json.stderr
