"""Shared fixtures: the user's seed pipelines (tests/fixtures/seed; copied, never used in place)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "tests" / "fixtures" / "seed"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A temp dir holding before.gitlab-ci.yml and after.gitlab-ci.yml from the seed."""
    for name in ("before.gitlab-ci.yml", "after.gitlab-ci.yml"):
        src = SEED / name
        if not src.is_file():
            pytest.fail(f"seed pipeline {src} is missing")
        shutil.copy(src, tmp_path / name)
    return tmp_path


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A writable copy of the fixture pipelines (include: local is relative to this root)."""
    dest = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, dest)
    return dest


def _write(tmp_path: Path, text: str, name: str = ".gitlab-ci.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run_ci(argv: list[str]) -> int:
    from mason.cli import ci_cmd

    parser = argparse.ArgumentParser(prog="mason ci")
    ci_cmd.configure(parser)
    return ci_cmd.run(parser.parse_args(argv))


@pytest.fixture
def write():
    """``write(dir, text, name=".gitlab-ci.yml") -> Path``."""
    return _write


@pytest.fixture
def run_ci():
    """Run ``mason ci ...`` through the command module's own parser; returns the exit code."""
    return _run_ci
